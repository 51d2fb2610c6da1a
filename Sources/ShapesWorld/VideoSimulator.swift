import EmuIO

// Short clips of objects moving and bouncing. The physics is integer and exact, so every frame is
// pixel-aligned and the same on every machine: objects are axis-aligned boxes with integer centres
// and integer velocities (pixels per frame); walls mirror an object back inside; two boxes that would
// come closer than `contactGap` exchange their velocity along the axis they met on (an elastic
// collision of equal masses) and keep their previous position on that axis for the frame.

/// An object and its velocity at one frame.
public struct ObjectState: Sendable, Hashable, Codable {
    public var object: SceneObject
    public var vx: Int
    public var vy: Int

    public init(object: SceneObject, vx: Int, vy: Int) {
        self.object = object; self.vx = vx; self.vy = vy
    }
}

/// Frames with the simulator's ground truth for each.
public struct VideoClip: Sendable, Equatable {
    public var frames: [RGBImage]
    /// states[f][i]: object i at frame f (objects keep their index through the clip).
    public var states: [[ObjectState]]
    /// "a small red circle moving right and a large blue square moving up and left".
    public var caption: String

    public init(frames: [RGBImage], states: [[ObjectState]], caption: String) {
        self.frames = frames; self.states = states; self.caption = caption
    }
}

public enum VideoSimulator {
    public static let defaultFrameCount = 8
    /// Boxes never come closer than this many pixels (so blobs stay apart for the reader).
    public static let contactGap = 2
    public static let maxSpeed = 3

    /// A clip from `seed`: 1 to 3 objects of distinct shapes and colours.
    public static func clip(seed: UInt64, frameCount: Int = defaultFrameCount) -> VideoClip {
        var rng = SeededRandom(seed: seed, stream: 3)
        while true {
            let start = initialStates(using: &rng)
            let states = simulate(start, frameCount: frameCount)
            // Rare three-body contacts can leave boxes too close; such clips are drawn again so the
            // invariant "never closer than contactGap" holds for every clip we hand out.
            guard states.allSatisfy(isSeparated) else { continue }
            return VideoClip(frames: states.map(render), states: states, caption: caption(start))
        }
    }

    static func initialStates(using rng: inout SeededRandom) -> [ObjectState] {
        let count = rng.int(in: 1...3)
        var shapes = ShapeKind.allCases, colors = ObjectColor.allCases
        rng.shuffle(&shapes); rng.shuffle(&colors)
        var objects = (0..<count).map {
            SceneObject(shape: shapes[$0], color: colors[$0], size: rng.element(of: ObjectSize.allCases), x: 0, y: 0)
        }
        while true {
            for i in objects.indices {
                let low = Int(objects[i].halfSize), high = Scene.canvasSize - low
                objects[i].x = Double(rng.int(in: low...high)); objects[i].y = Double(rng.int(in: low...high))
            }
            let states = objects.map { object -> ObjectState in
                var vx = 0, vy = 0
                while vx == 0 && vy == 0 { vx = rng.int(in: -maxSpeed...maxSpeed); vy = rng.int(in: -maxSpeed...maxSpeed) }
                return ObjectState(object: object, vx: vx, vy: vy)
            }
            if isSeparated(states) { return states }
        }
    }

    /// `frameCount` frames of states, the first being `start`.
    public static func simulate(_ start: [ObjectState], frameCount: Int) -> [[ObjectState]] {
        var frames = [start]
        while frames.count < frameCount { frames.append(step(frames.last!)) }
        return frames
    }

    /// One frame of motion.
    public static func step(_ states: [ObjectState], canvas: Int = Scene.canvasSize) -> [ObjectState] {
        var next = states
        for i in next.indices {
            let h = Int(next[i].object.halfSize)
            var x = Int(next[i].object.x) + next[i].vx, y = Int(next[i].object.y) + next[i].vy
            if x < h { x = 2 * h - x; next[i].vx = -next[i].vx }
            if x > canvas - h { x = 2 * (canvas - h) - x; next[i].vx = -next[i].vx }
            if y < h { y = 2 * h - y; next[i].vy = -next[i].vy }
            if y > canvas - h { y = 2 * (canvas - h) - y; next[i].vy = -next[i].vy }
            next[i].object.x = Double(x); next[i].object.y = Double(y)
        }
        for i in next.indices {
            for j in next.indices where j > i && areTooClose(next[i], next[j]) {
                // The axis they were apart on before this frame is the axis they met on.
                let reach = next[i].object.halfSize + next[j].object.halfSize + Double(contactGap)
                let wasApartInX = abs(states[i].object.x - states[j].object.x) >= reach
                if wasApartInX {
                    (next[i].vx, next[j].vx) = (next[j].vx, next[i].vx)
                    next[i].object.x = states[i].object.x; next[j].object.x = states[j].object.x
                } else {
                    (next[i].vy, next[j].vy) = (next[j].vy, next[i].vy)
                    next[i].object.y = states[i].object.y; next[j].object.y = states[j].object.y
                }
            }
        }
        return next
    }

    static func areTooClose(_ a: ObjectState, _ b: ObjectState) -> Bool {
        let reach = a.object.halfSize + b.object.halfSize + Double(contactGap)
        return abs(a.object.x - b.object.x) < reach && abs(a.object.y - b.object.y) < reach
    }

    /// No two boxes closer than the contact gap.
    public static func isSeparated(_ states: [ObjectState]) -> Bool {
        for i in states.indices {
            for j in states.indices where j > i && areTooClose(states[i], states[j]) { return false }
        }
        return true
    }

    public static func render(_ states: [ObjectState]) -> RGBImage {
        SceneRenderer.render(Scene(objects: states.map(\.object)))
    }

    /// "a small red circle moving right and a large blue square moving up and left".
    public static func caption(_ states: [ObjectState]) -> String {
        let phrases = states.map { state -> String in
            var directions: [String] = []
            if state.vy < 0 { directions.append("up") } else if state.vy > 0 { directions.append("down") }
            if state.vx < 0 { directions.append("left") } else if state.vx > 0 { directions.append("right") }
            let description = ObjectDescription(count: 1, size: state.object.size, color: state.object.color,
                                                shape: state.object.shape)
            return CaptionGrammar.phrase(description) + " moving " + directions.joined(separator: " and ")
        }
        guard phrases.count > 1 else { return phrases.first ?? "" }
        return phrases.dropLast().joined(separator: ", ") + " and " + phrases.last!
    }
}
