import Foundation
import Logging
import NIOConcurrencyHelpers

/// Where log lines go: stderr, and a file when `logfile` is set (reopened on reload so that
/// logrotate can move it away).
public final class LogSink: @unchecked Sendable {
    public enum Format: Sendable { case json, text }

    private let lock = NIOLock()
    private var file: FileHandle?
    private var filePath = ""
    private var toStderr = true
    public private(set) var format: Format = .json
    public private(set) var level: Logger.Level = .info

    public init() {}

    public func configure(format: Format, level: Logger.Level, logfile: String, quiet: Bool) {
        lock.withLock {
            self.format = format
            self.level = level
            self.toStderr = !quiet
            if logfile != filePath || logfile.isEmpty {
                try? file?.close()
                file = nil
                filePath = logfile
            }
            if !logfile.isEmpty {
                // Reopen every time: after logrotate moved the file, lines go to a new one.
                try? file?.close()
                if !FileManager.default.fileExists(atPath: logfile) {
                    _ = FileManager.default.createFile(atPath: logfile, contents: nil)  // a failure shows as no file below
                }
                file = FileHandle(forWritingAtPath: logfile)
                file?.seekToEndOfFile()
            }
        }
    }

    public func write(_ line: String) {
        let data = Data((line + "\n").utf8)
        lock.withLock {
            if toStderr { FileHandle.standardError.write(data) }
            file?.write(data)
        }
    }

    var currentLevel: Logger.Level { lock.withLock { level } }
    var currentFormat: Format { lock.withLock { format } }
}

/// A swift-log handler that writes one JSON object (or one key=value text line) per event.
public struct PGRelayLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let sink: LogSink

    public init(label: String, sink: LogSink) {
        self.label = label
        self.sink = sink
    }

    public var logLevel: Logger.Level {
        get { sink.currentLevel }
        set {}
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let timestamp = Self.timestamp()
        switch sink.currentFormat {
        case .json:
            var line = "{\"ts\":\"\(timestamp)\",\"level\":\"\(event.level)\",\"msg\":\(Self.jsonString(event.message.description))"
            for key in merged.keys.sorted() {
                line += ",\(Self.jsonString(key)):\(Self.jsonValue(merged[key]!))"
            }
            line += "}"
            sink.write(line)
        case .text:
            var line = "\(timestamp) \(event.level.rawValue.uppercased()) \(event.message)"
            for key in merged.keys.sorted() { line += " \(key)=\(merged[key]!)" }
            sink.write(line)
        }
    }

    public func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
                    file: String, function: String, line: UInt) {
        log(event: LogEvent(level: level, message: message, metadata: metadata, source: source, file: file, function: function, line: line))
    }

    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var time = now.tv_sec
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                      Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(now.tv_nsec / 1_000_000))
    }

    static func jsonValue(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let s): return jsonString(s)
        case .stringConvertible(let c): return jsonString(c.description)
        case .array(let items): return "[" + items.map(jsonValue).joined(separator: ",") + "]"
        case .dictionary(let dict):
            return "{" + dict.keys.sorted().map { "\(jsonString($0)):\(jsonValue(dict[$0]!))" }.joined(separator: ",") + "}"
        }
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
