// @peculiar/x509 resolves its algorithm providers through tsyringe, which needs the Reflect metadata
// polyfill loaded first. Import @peculiar/x509 only through this module so that the order is right
// everywhere, and so that it uses Node's built-in WebCrypto (≈2× faster than @peculiar/webcrypto).
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(globalThis.crypto);

export { x509 };
