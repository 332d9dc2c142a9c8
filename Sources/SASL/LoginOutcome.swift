/// How a login ended, as every protocol's state machine hears it from the
/// authenticator (SMTP AUTH, POP3 USER/PASS and AUTH, IMAP LOGIN and AUTHENTICATE).
public enum LoginOutcome: Sendable, Equatable {
    /// The password is right; the canonical user name.
    case success(String)
    /// Wrong user or password (the client is not told which).
    case failure
    /// Too many recent failures: refused without checking.
    case throttled
    /// The user database could not be asked.
    case temporaryFailure
}
