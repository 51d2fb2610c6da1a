import EmuIO

// Scores predicted video frames against the simulator's true future: each true object is found in
// the predicted frame by colour (clip objects have distinct colours; among same-coloured blobs the
// nearest wins), and its position error is the distance between box centres in pixels.

public struct VideoPredictionScore: Sendable, Hashable, Codable {
    /// Mean position error over objects found, in pixels (0 when none was found).
    public var meanError: Double
    /// Share of true objects found within `tolerance` pixels (a missing object counts as a miss).
    public var shareWithinTolerance: Double
    public var tolerance: Double
    /// Per predicted frame: mean error and share within tolerance.
    public var perFrameMeanError: [Double]
    public var perFrameShareWithinTolerance: [Double]
    public var objectCount: Int
    public var missedCount: Int
}

public enum VideoEvaluator {
    public static let defaultTolerance = 4.0

    /// `predicted[k]` is compared with `truth[k]`; extra frames on either side are ignored.
    public static func score(predicted: [RGBImage], truth: [[ObjectState]], reader: SceneReader = SceneReader(),
                             tolerance: Double = defaultTolerance) -> VideoPredictionScore {
        var errors: [Double] = [], within = 0, objects = 0, missed = 0
        var frameErrors: [Double] = [], frameShares: [Double] = []
        for (image, states) in zip(predicted, truth) {
            var available = reader.objects(in: image)
            var frameErrorSum = 0.0, frameFound = 0, frameWithin = 0
            for state in states {
                objects += 1
                let candidates = available.indices.filter { available[$0].color == state.object.color }
                guard let nearest = candidates.min(by: {
                    distance(available[$0], state.object) < distance(available[$1], state.object)
                }) else { missed += 1; continue }
                let error = distance(available[nearest], state.object)
                available.remove(at: nearest)
                errors.append(error); frameErrorSum += error; frameFound += 1
                if error <= tolerance { within += 1; frameWithin += 1 }
            }
            frameErrors.append(frameFound == 0 ? 0 : frameErrorSum / Double(frameFound))
            frameShares.append(states.isEmpty ? 1 : Double(frameWithin) / Double(states.count))
        }
        return VideoPredictionScore(
            meanError: errors.isEmpty ? 0 : errors.reduce(0, +) / Double(errors.count),
            shareWithinTolerance: objects == 0 ? 1 : Double(within) / Double(objects),
            tolerance: tolerance, perFrameMeanError: frameErrors, perFrameShareWithinTolerance: frameShares,
            objectCount: objects, missedCount: missed)
    }

    static func distance(_ a: SceneObject, _ b: SceneObject) -> Double {
        let dx = a.x - b.x, dy = a.y - b.y
        return (dx * dx + dy * dy).squareRoot()
    }
}
