import Foundation

/// The password normalization SCRAM applies before hashing, with PostgreSQL's fallback.
///
/// RFC 5802 asks for SASLprep (RFC 4013). PostgreSQL (`pg_saslprep`) and libpq apply it, but use
/// the raw password bytes whenever SASLprep fails (prohibited characters, bidi violations,
/// unassigned code points), so that any password still works. This type mirrors that:
/// - ASCII passwords are used unchanged, control characters included (as PostgreSQL does).
/// - Otherwise: non-ASCII spaces become U+0020, "commonly mapped to nothing" characters are removed,
///   the result is NFKC-normalized, and checked against RFC 3454's prohibited tables.
///   Any violation, or an empty result, gives the raw UTF-8 bytes.
///
/// Limits: unassigned code points are judged by the Unicode version of the running Swift runtime
/// rather than Unicode 3.2 (table A.1), and the bidi rule uses script ranges for RandALCat and
/// "alphabetic, not RandALCat" for LCat instead of RFC 3454's exact tables D.1/D.2. Both only matter
/// for passwords whose NFKC form differs from their raw form and that sit on those edges.
public enum SASLprep {
    /// The bytes to feed to PBKDF2 for `password`.
    public static func prepare(_ password: String) -> [UInt8] {
        let raw = Array(password.utf8)
        if raw.allSatisfy({ $0 < 0x80 }) {
            return raw
        }
        var mapped = String.UnicodeScalarView()
        for scalar in password.unicodeScalars {
            if isNonASCIISpace(scalar.value) {
                mapped.append(" ")
            } else if !isMappedToNothing(scalar.value) {
                mapped.append(scalar)
            }
        }
        let normalized = String(mapped).precomposedStringWithCompatibilityMapping
        let scalars = Array(normalized.unicodeScalars)
        guard !scalars.isEmpty,
            !scalars.contains(where: { isProhibited($0) }),
            satisfiesBidiRule(scalars)
        else {
            return raw
        }
        return Array(normalized.utf8)
    }

    /// RFC 3454 table C.1.2.
    static func isNonASCIISpace(_ value: UInt32) -> Bool {
        switch value {
        case 0x00A0, 0x1680, 0x2000...0x200B, 0x202F, 0x205F, 0x3000: return true
        default: return false
        }
    }

    /// RFC 3454 table B.1.
    static func isMappedToNothing(_ value: UInt32) -> Bool {
        switch value {
        case 0x00AD, 0x034F, 0x1806, 0x180B...0x180D, 0x200B...0x200D, 0x2060, 0xFE00...0xFE0F, 0xFEFF:
            return true
        default: return false
        }
    }

    /// RFC 4013 section 2.3: tables C.1.2, C.2.1, C.2.2, C.3–C.9, plus unassigned code points.
    static func isProhibited(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if isNonASCIISpace(value) { return true }
        switch value {
        case 0x0000...0x001F, 0x007F,  // C.2.1
            0x0080...0x009F, 0x06DD, 0x070F, 0x180E, 0x200C, 0x200D, 0x2028, 0x2029,
            0x2060...0x2063, 0x206A...0x206F, 0xFEFF, 0xFFF9...0xFFFC, 0x1D173...0x1D17A,  // C.2.2
            0xE000...0xF8FF, 0xF0000...0xFFFFD, 0x100000...0x10FFFD,  // C.3
            0xFDD0...0xFDEF,  // C.4 (the nFFFE/nFFFF part below)
            0xFFFD,  // C.6 (FFF9–FFFC are in C.2.2)
            0x2FF0...0x2FFB,  // C.7
            0x0340, 0x0341, 0x200E, 0x200F, 0x202A...0x202E,  // C.8
            0xE0001, 0xE0020...0xE007F:  // C.9
            return true
        default:
            break
        }
        if value & 0xFFFE == 0xFFFE { return true }  // C.4: U+nFFFE and U+nFFFF
        return scalar.properties.generalCategory == .unassigned
    }

    /// RFC 3454 section 6: a string with right-to-left characters must not contain left-to-right
    /// ones, and must start and end with a right-to-left character.
    static func satisfiesBidiRule(_ scalars: [Unicode.Scalar]) -> Bool {
        guard scalars.contains(where: isRightToLeft) else { return true }
        guard let first = scalars.first, let last = scalars.last,
            isRightToLeft(first), isRightToLeft(last)
        else { return false }
        return !scalars.contains { !isRightToLeft($0) && $0.properties.isAlphabetic }
    }

    /// Approximation of table D.1 (RandALCat) by the right-to-left scripts' blocks.
    static func isRightToLeft(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x05BE, 0x05C0, 0x05C3, 0x05D0...0x05F4, 0x0608, 0x060B, 0x060D, 0x061B...0x064A,
            0x066D...0x066F, 0x0671...0x06D5, 0x06E5, 0x06E6, 0x06EE, 0x06EF, 0x06FA...0x070D,
            0x0710, 0x0712...0x072F, 0x074D...0x07A5, 0x07B1, 0x07C0...0x07EA, 0x07F4, 0x07F5,
            0x07FA, 0x0800...0x0815, 0x0840...0x0858, 0x08A0...0x08C9,
            0x200F, 0xFB1D, 0xFB1F...0xFB28, 0xFB2A...0xFD3D, 0xFD50...0xFDFC, 0xFE70...0xFEFC,
            0x10800...0x10FFF, 0x1E800...0x1EFFF:
            return true
        default:
            return false
        }
    }
}
