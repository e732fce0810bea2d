/** Sign-in: users with scrypt hashes, sessions in HttpOnly cookies, the audit log, who is asking. */
export { AuditEntry, Role, roleAtLeast, SESSION_MS, User, UserName, type AuthStore, type Session } from "./auth-store";
export { SqliteAuthStore } from "./sqlite-auth-store";
export { PgAuthStore } from "./pg-auth-store";
export { hashPassword, verifyPassword, generatePassword } from "./password";
export { RateLimiter, LoginLimiter, LOGIN_LIMITS, type LoginLimits, type LoginVerdict } from "./rate-limit";
export { clientOf, normalizeAddress, peerStorage, trustList, TrustedProxy, type Client, type Peer } from "./client-address";
export { sessionTokens, SESSION_COOKIE } from "./cookies";
