import Foundation

/// Replaces a checkpoint folder so that an interruption at any moment leaves either the old
/// folder or the new one intact, never a half-written mix.
public enum AtomicDirectory {
    /// Writes `build` into a fresh sibling folder, then swaps it in: old -> `.previous`, new ->
    /// final name, then removes `.previous`. `recover(at:)` finishes an interrupted swap.
    public static func replace(at destination: URL, build: (URL) throws -> Void) throws {
        let fm = FileManager.default
        let parent = destination.deletingLastPathComponent()
        try fm.createDirectory(at: parent, withIntermediateDirectories: true)
        try recover(at: destination)
        let staging = parent.appendingPathComponent(".\(destination.lastPathComponent).staging-\(ProcessInfo.processInfo.processIdentifier)")
        try? fm.removeItem(at: staging)
        try fm.createDirectory(at: staging, withIntermediateDirectories: true)
        do { try build(staging) } catch { try? fm.removeItem(at: staging); throw error }
        let previous = previousURL(destination)
        if fm.fileExists(atPath: destination.path) { try fm.moveItem(at: destination, to: previous) }
        try fm.moveItem(at: staging, to: destination)
        try? fm.removeItem(at: previous)
    }

    /// If a swap was interrupted after the old folder moved aside, puts it back.
    public static func recover(at destination: URL) throws {
        let fm = FileManager.default
        let previous = previousURL(destination)
        guard fm.fileExists(atPath: previous.path) else { return }
        if fm.fileExists(atPath: destination.path) { try fm.removeItem(at: previous) }
        else { try fm.moveItem(at: previous, to: destination) }
    }

    static func previousURL(_ destination: URL) -> URL {
        destination.deletingLastPathComponent().appendingPathComponent(".\(destination.lastPathComponent).previous")
    }
}
