/** The typed application API: import from here (`../api`). */
export * from './api';
export * from './model';
export * from './errors';
export * from './channels';
export * from './dispatch';
export * from './proxy';
export * from './bridge-protocol';
export * from './bridge-client';
