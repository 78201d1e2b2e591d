/** The controller daemon (`strata serve`) as a library: embed it, feed it specs, issue and check node tokens. */
export {
  type Controller,
  type ControllerOptions,
  DEFAULT_BIND,
  DEFAULT_PORT,
  type LogSink,
  type ReloadResult,
  startController,
} from './server.ts';
export { siteConfigNodes, siteConfigSpecSource } from './site-config-source.ts';
export { buildSnapshot, LoadedSpecSource, type NodeLoader, parseAuthMethod } from './source.ts';
export {
  decodeClaims,
  defaultSigningKeyFile,
  issueToken,
  loadSigningKey,
  parseDuration,
  safeEqual,
  type TokenCheck,
  type TokenClaims,
  verifyToken,
} from './tokens.ts';
export {
  AUTH_METHODS,
  type AuthMethod,
  type Credentials,
  isValidIdentity,
  type NodeEntry,
  type SpecSource,
} from './types.ts';
