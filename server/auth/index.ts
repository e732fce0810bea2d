/** Sign-in: users with scrypt hashes, sessions in HttpOnly cookies, the audit log. */
export { AuthStore, AuditEntry, SESSION_MS, type Session } from "./auth-store";
export { hashPassword, verifyPassword, generatePassword } from "./password";
export { RateLimiter } from "./rate-limit";
