import NIOCore

extension ByteBuffer {
    /// Writes the Bind frame `frameBytes` again with the statement name at `statement` (as
    /// `StatementNamePeek.boundStatement` finds it) replaced by `newName`. The portal name and the
    /// parameters are copied as they arrived: a relay that renames statements has no reason to
    /// decode the values and formats of every Bind, which is most of its bytes. One reservation
    /// and three copies: each of ByteBuffer's `write…` calls checks uniqueness and capacity
    /// again, which costs more than the copies for a Bind of a few dozen bytes.
    public mutating func writeBind(_ frameBytes: UnsafeRawBufferPointer, renaming statement: Range<Int>, to newName: String) {
        let header = 5
        precondition(statement.lowerBound > header && statement.upperBound < frameBytes.count, "not a Bind's statement name")
        var newName = newName
        newName.withUTF8 { name in
            let total = frameBytes.count - statement.count + name.count
            writeWithUnsafeMutableBytes(minimumWritableBytes: total) { out in
                out[0] = FrontendType.bind
                out.storeBytes(of: UInt32(total - 1).bigEndian, toByteOffset: 1, as: UInt32.self)
                var at = header
                func copy(_ piece: UnsafeRawBufferPointer) {
                    UnsafeMutableRawBufferPointer(rebasing: out[at ..< at + piece.count]).copyMemory(from: piece)
                    at += piece.count
                }
                copy(UnsafeRawBufferPointer(rebasing: frameBytes[header ..< statement.lowerBound]))
                copy(UnsafeRawBufferPointer(name))
                // From the name's terminator on: parameter formats, values, result formats.
                copy(UnsafeRawBufferPointer(rebasing: frameBytes[statement.upperBound...]))
                return total
            }
        }
    }
}
