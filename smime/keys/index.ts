export type { Decryptor, EcdhDecryptor, HashName, RsaDecryptor, SignRequest, SignatureAlgorithm, Signer } from './types';
export { KeyOperationError, UnsupportedKeyError } from './errors';
export { digest, digestLength, nodeHashName, ecdsaDerToRaw, ecdsaRawToDer, encodeDigestInfo, encodeEmsaPkcs1v15, encodeEmsaPss, leftPad, mgf1, signWithRawRsa } from './encoding';
export { SoftwareEcdhDecryptor, SoftwareRsaDecryptor, SoftwareSigner, softwareDecryptor, type Pkcs8Input, type SoftwareSignerOptions } from './software';
