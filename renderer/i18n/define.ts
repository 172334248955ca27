/**
 * One screen's strings in both languages. Each UI area keeps its words next to its components
 * (`renderer/<area>/strings.ts`) and `messages.ts` merges them, so areas are added without
 * touching each other's tables. The Japanese table must have exactly the English keys.
 */
export interface AreaStrings<K extends string> {
  readonly en: Readonly<Record<K, string>>;
  readonly ja: Readonly<Record<K, string>>;
}

export function defineStrings<const T extends Record<string, string>>(en: T, ja: Record<keyof T & string, string>): AreaStrings<keyof T & string> {
  return { en, ja };
}
