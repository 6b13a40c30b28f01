import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PGRelayCore
import Synchronization

/// Holds finished spans and sends them, in batches of up to 512, to `otlp_endpoint` as OTLP/HTTP
/// JSON, from a thread of its own (started with the first endpoint), so that no event loop
/// encodes or writes a span. Event loops only append to a bounded queue under a short lock —
/// once per sampled query; when the queue is full (`otlp_queue_size`, the collector slow or
/// away) a new span is dropped and counted, and no query ever waits for export.
final class SpanExporter: @unchecked Sendable {
    static let batchSize = 512
    static let exportInterval = TimeAmount.seconds(1)
    static let requestTimeout = TimeAmount.seconds(10)
    /// At most one warning about failed exports per this interval.
    static let warningInterval = TimeAmount.seconds(60)

    private struct State {
        var queue: [QuerySpan] = []
        var capacity = 2048
        var endpoint: OTLPEndpoint?
        var serviceName = "pgrelay"
        var wakeRequested = false
        var loop: EventLoop?
    }

    private let state = NIOLockedValueBox(State())
    private let exportedCount = Atomic<UInt64>(0)
    private let droppedCount = Atomic<UInt64>(0)
    private let failedCount = Atomic<UInt64>(0)
    private let logger: Logger
    /// Guards the start of the thread (`group`, `client`, `timer`).
    private let startLock = NIOLock()
    private var group: MultiThreadedEventLoopGroup?
    private var timer: RepeatedTask?
    // On the exporter's loop only:
    private var client: OTLPHTTPClient?
    private var exporting = false
    private var lastWarning: NIODeadline?

    init(logger: Logger) {
        self.logger = logger
    }

    /// Spans sent and accepted, dropped because the queue was full, and lost to failed exports.
    var exported: UInt64 { exportedCount.load(ordering: .relaxed) }
    var dropped: UInt64 { droppedCount.load(ordering: .relaxed) }
    var failed: UInt64 { failedCount.load(ordering: .relaxed) }
    var queued: Int { state.withLockedValue { $0.queue.count } }

    /// Applies `otlp_endpoint`, `otlp_queue_size` and `otlp_service_name` (start and reload; a
    /// reload and a console SET may come from two threads at once).
    func configure(_ config: Config) {
        let endpoint = config.otlpEndpoint.isEmpty ? nil : try? OTLPEndpoint.parse(config.otlpEndpoint)
        if endpoint != nil {
            startLock.withLock {
                guard group == nil else { return }
                let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
                let loop = group.next()
                self.group = group
                client = OTLPHTTPClient(loop: loop)
                state.withLockedValue { $0.loop = loop }
                timer = loop.scheduleRepeatedTask(initialDelay: Self.exportInterval, delay: Self.exportInterval) { [self] _ in
                    exportPending()
                }
            }
        }
        state.withLockedValue { state in
            state.endpoint = endpoint
            state.capacity = config.otlpQueueSize
            state.serviceName = config.otlpServiceName
            state.queue.reserveCapacity(min(config.otlpQueueSize, 65536))
        }
    }

    /// Queues a finished span (any thread); drops it when the queue is full.
    func submit(_ span: QuerySpan) {
        let (accepted, wake) = state.withLockedValue { state -> (Bool, EventLoop?) in
            guard state.queue.count < state.capacity, state.endpoint != nil else { return (false, nil) }
            state.queue.append(span)
            guard state.queue.count >= Self.batchSize, !state.wakeRequested else { return (true, nil) }
            state.wakeRequested = true
            return (true, state.loop)
        }
        if !accepted { droppedCount.wrappingAdd(1, ordering: .relaxed) }
        wake?.execute { [self] in exportPending() }
    }

    /// Sends what is queued, one batch at a time (on the exporter's loop).
    private func exportPending() {
        guard !exporting, let client else { return }
        let (batch, endpoint, serviceName) = state.withLockedValue { state -> ([QuerySpan], OTLPEndpoint?, String) in
            state.wakeRequested = false
            let batch = Array(state.queue.prefix(Self.batchSize))
            state.queue.removeFirst(batch.count)
            return (batch, state.endpoint, state.serviceName)
        }
        guard !batch.isEmpty else { return }
        guard let endpoint else {
            droppedCount.wrappingAdd(UInt64(batch.count), ordering: .relaxed)
            return
        }
        exporting = true
        let body = OTLPTraceJSON.encode(batch, serviceName: serviceName, serviceVersion: PGRelayVersion.version)
        client.post(body, to: endpoint, timeout: Self.requestTimeout).whenComplete { [self] result in
            exporting = false
            switch result {
            case .success(let status) where (200 ..< 300).contains(status):
                exportedCount.wrappingAdd(UInt64(batch.count), ordering: .relaxed)
            case .success(let status):
                exportFailed(batch.count, endpoint: endpoint, reason: "HTTP status \(status)")
            case .failure(let error):
                exportFailed(batch.count, endpoint: endpoint, reason: "\(error)")
            }
            if queued >= Self.batchSize { exportPending() }
        }
    }

    private func exportFailed(_ count: Int, endpoint: OTLPEndpoint, reason: String) {
        failedCount.wrappingAdd(UInt64(count), ordering: .relaxed)
        let now = NIODeadline.now()
        if let lastWarning, now - lastWarning < Self.warningInterval { return }
        lastWarning = now
        logger.warning("span export failed, spans lost", metadata: [
            "endpoint": "\(endpoint.url)", "spans": "\(count)", "reason": "\(reason)", "lost_total": "\(failed)",
        ])
    }

    /// Sends what is queued (one batch, waiting at most `timeout`), then stops the thread.
    func shutdown(timeout: TimeAmount = .seconds(2)) {
        guard let group = startLock.withLock({ group }), let loop = state.withLockedValue({ $0.loop }) else { return }
        let flushed = loop.submit { [self] in
            exportPending()
        }
        _ = try? flushed.wait()
        let deadline = NIODeadline.now() + timeout
        while NIODeadline.now() < deadline, (try? loop.submit({ [self] in exporting }).wait()) == true {
            usleep(20_000)
        }
        timer?.cancel()
        _ = try? loop.submit { [self] in client?.close() }.wait()
        try? group.syncShutdownGracefully()
        startLock.withLock { self.group = nil }
    }
}
