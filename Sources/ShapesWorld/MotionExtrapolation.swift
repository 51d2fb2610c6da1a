import EmuIO

/// A model-free video predictor, as a reference for models: it reads the objects in the last two
/// given frames, takes each one's displacement between them as its velocity, and runs the
/// simulator's own rules forward. Fed frames through a codec, it shows what those codes allow a
/// model that had learned the world's physics exactly; fed true frames, it is the simulator itself
/// (but for a bounce between the two frames, which the displacement does not show).
public enum MotionExtrapolation {
    /// The objects of the last frame with their velocities, read from the last two frames. A
    /// clip's objects have distinct colours, so each is matched by colour (the nearest, if the
    /// reader split one); objects not found in both frames are left out and count as missed.
    public static func states(readFrom frames: [RGBImage], reader: SceneReader = SceneReader()) -> [ObjectState] {
        guard frames.count >= 2 else { return [] }
        let before = reader.objects(in: frames[frames.count - 2])
        let speed = VideoSimulator.maxSpeed
        func velocity(_ displacement: Double) -> Int { min(max(Int(displacement.rounded()), -speed), speed) }
        return reader.objects(in: frames[frames.count - 1]).compactMap { object in
            let sameColor = before.filter { $0.color == object.color }
            guard let earlier = sameColor.min(by: { VideoEvaluator.distance($0, object) < VideoEvaluator.distance($1, object) }) else { return nil }
            var start = object
            // The simulator moves objects by whole pixels and keeps them inside the canvas.
            let low = object.halfSize, high = Double(Scene.canvasSize) - object.halfSize
            start.x = min(max(object.x.rounded(), low), high)
            start.y = min(max(object.y.rounded(), low), high)
            return ObjectState(object: start, vx: velocity(object.x - earlier.x), vy: velocity(object.y - earlier.y))
        }
    }

    /// The states of the `count` frames after `frames`, by the simulator's rules.
    public static func predict(after frames: [RGBImage], count: Int, reader: SceneReader = SceneReader()) -> [[ObjectState]] {
        guard count > 0 else { return [] }
        return Array(VideoSimulator.simulate(states(readFrom: frames, reader: reader), frameCount: count + 1).dropFirst())
    }
}
