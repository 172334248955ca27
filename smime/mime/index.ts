/** MIME for S/MIME with exact bytes: see README.md in this folder. */
export * from './errors';
export * from './canonical';
export * from './headers';
export * from './parse';
export * from './smime';
export * from './build';
export * from './header-protection';
