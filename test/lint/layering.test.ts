import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/**
 * The dependency direction (README "Layout") is a lint rule, not a convention: these cases prove
 * that the rule fires for each forbidden import and stays quiet for allowed ones.
 */
const eslint = new ESLint({ cwd: process.cwd() });

async function ruleIdsFor(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => m.ruleId ?? m.message);
}

describe('layering rules', () => {
  const forbidden: Array<[string, string, string]> = [
    ['smime/x.ts', "import { connect } from 'node:net';\nexport const c = connect;\n", 'no-restricted-imports'],
    ['smime/x.ts', "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n", 'no-restricted-imports'],
    ['smime/x.ts', "import { app } from 'electron';\nexport const a = app;\n", 'no-restricted-imports'],
    ['smime/x.ts', "import { useState } from 'react';\nexport const u = useState;\n", 'no-restricted-imports'],
    ['renderer/x.ts', "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n", 'no-restricted-imports'],
    ['renderer/x.ts', "import path from 'path';\nexport const p = path;\n", 'no-restricted-imports'],
    ['renderer/x.ts', "import { ipcRenderer } from 'electron';\nexport const i = ipcRenderer;\n", 'no-restricted-imports'],
    ['api/x.ts', "import { EventEmitter } from 'node:events';\nexport const e = EventEmitter;\n", 'no-restricted-imports'],
    ['native/x.ts', "import { app } from 'electron';\nexport const a = app;\n", 'no-restricted-imports'],
    ['smime/cms/x.ts', "import { a } from '../../native/piv/card';\nexport const b = a;\n", 'no-restricted-imports'],
    ['smime/x.ts', "import { a } from '../org-node/relay';\nexport const b = a;\n", 'no-restricted-imports'],
    ['renderer/x.tsx', "import { a } from '../smime/chain/verify';\nexport const b = a;\n", 'no-restricted-imports'],
    ['renderer/x.tsx', "import { a } from '../electron/main';\nexport const b = a;\n", 'no-restricted-imports'],
    ['native/piv/x.ts', "import { a } from '../../org-node/keys';\nexport const b = a;\n", 'no-restricted-imports'],
    ['org-node/x.ts', "import { a } from '../native/piv/card';\nexport const b = a;\n", 'no-restricted-imports'],
    ['electron/x.ts', "import { a } from '../renderer/app';\nexport const b = a;\n", 'no-restricted-imports'],
    ['api/x.ts', "import { a } from '../smime/chain/verify';\nexport const b = a;\n", 'no-restricted-imports'],
    ['client/x.ts', "import { app } from 'electron';\nexport const a = app;\n", 'no-restricted-imports'],
    ['client/x.ts', "import { a } from '../electron/main';\nexport const b = a;\n", 'no-restricted-imports'],
  ];
  it.each(forbidden)('%s: forbids %j', async (file, code, rule) => {
    expect(await ruleIdsFor(file, code)).toContain(rule);
  });

  const allowed: Array<[string, string]> = [
    ['smime/x.ts', "import { createHash } from 'node:crypto';\nexport const h = createHash;\n"],
    ['native/x.ts', "import { EventEmitter } from 'node:events';\nexport const e = EventEmitter;\n"],
    ['org-node/x.ts', "import { createServer } from 'node:net';\nexport const s = createServer;\n"],
    ['org-node/x.ts', "import { a } from '../smime/cms/sign';\nexport const b = a;\n"],
    ['native/piv/x.ts', "import { a } from '../../smime/keys/signer';\nexport const b = a;\n"],
    ['electron/x.ts', "import { a } from '../api/app-api';\nexport const b = a;\n"],
    ['electron/x.ts', "import { a } from '../client/services';\nexport const b = a;\n"],
    ['client/x.ts', "import { a } from '../native/piv/card';\nexport const b = a;\n"],
    ['renderer/x.tsx', "import { a } from '../api/app-api';\nexport const b = a;\n"],
  ];
  it.each(allowed)('%s: allows %j', async (file, code) => {
    expect(await ruleIdsFor(file, code)).toEqual([]);
  });
});
