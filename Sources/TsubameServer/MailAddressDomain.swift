import MailCore

/// Host name validation for `hostname`, shared with the domain rules of addresses.
enum MailAddressDomain {
    static func validate(_ text: String) -> String? {
        MailAddress.normalizedDomain(text)
    }
}
