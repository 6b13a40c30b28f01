/// The value last found under a statement name, kept with the name's bytes. A client binds the
/// same few prepared statements again and again; comparing the Bind's name bytes with the last
/// one costs a few instructions, making a String of them and hashing it a few hundred. The owner
/// forgets it whenever the table the value came from changes.
public struct LastNamedLookup<Value> {
    private var name: [UInt8] = []
    private var value: Value?

    public init() {}

    /// The remembered value when `name` is the remembered name's bytes.
    public func value(named name: UnsafeRawBufferPointer) -> Value? {
        guard let value, self.name.count == name.count, self.name.elementsEqual(name) else { return nil }
        return value
    }

    public mutating func remember(_ value: Value, named name: UnsafeRawBufferPointer) {
        self.name.removeAll(keepingCapacity: true)
        self.name.append(contentsOf: name)
        self.value = value
    }

    public mutating func forget() {
        value = nil
    }
}
