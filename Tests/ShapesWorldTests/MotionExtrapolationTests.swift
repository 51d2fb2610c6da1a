import EmuIO
import XCTest
@testable import ShapesWorld

/// The model-free video reference: read the last two frames, move by the displacement, simulate.
final class MotionExtrapolationTests: XCTestCase {
    /// On true frames it reads every object's state exactly, unless something bounced between the
    /// two frames (the displacement then is not the velocity), and predicts the simulator's future.
    func testTrueFramesGiveTheSimulatorsStatesAndFuture() {
        var exactStarts = 0, bounced = 0
        var predicted: [[RGBImage]] = Array(repeating: [], count: 4), truth: [[[ObjectState]]] = Array(repeating: [], count: 4)
        for clip in TaskData.videoClips(.heldOut, count: 60, frameCount: 6) {
            let read = MotionExtrapolation.states(readFrom: Array(clip.frames.prefix(2)))
            let byColor = { (states: [ObjectState]) in states.sorted { $0.object.color.rawValue < $1.object.color.rawValue } }
            let movedFreely = zip(clip.states[0], clip.states[1]).allSatisfy { $0.vx == $1.vx && $0.vy == $1.vy
                && $1.object.x == $0.object.x + Double($0.vx) && $1.object.y == $0.object.y + Double($0.vy) }
            if movedFreely {
                XCTAssertEqual(byColor(read), byColor(clip.states[1]))
                exactStarts += 1
            } else {
                bounced += 1
            }
            let future = MotionExtrapolation.predict(after: Array(clip.frames.prefix(2)), count: 4)
            XCTAssertEqual(future.count, 4)
            for k in 0..<4 {
                predicted[k].append(VideoSimulator.render(future[k]))
                truth[k].append(clip.states[2 + k])
            }
        }
        XCTAssertGreaterThan(exactStarts, 44, "46 of these 60 clips move freely between the given frames")
        XCTAssertGreaterThan(bounced, 0, "some clips bounce between the given frames")
        let last = VideoEvaluator.score(predicted: predicted[3], truth: truth[3])
        XCTAssertGreaterThanOrEqual(last.shareWithinTolerance, 0.93, "the simulator's rules from its own states, four frames on")
        XCTAssertEqual(last.missedCount, 0)
    }

    /// A wrong velocity shows: frames swapped in time read as the reverse motion, and the
    /// prediction falls far behind the true future.
    func testReversedFramesPredictTheReverseMotion() {
        let clips = TaskData.videoClips(.heldOut, count: 30, frameCount: 6)
        let forward = clips.map { MotionExtrapolation.predict(after: [$0.frames[0], $0.frames[1]], count: 4)[3] }
        let backward = clips.map { MotionExtrapolation.predict(after: [$0.frames[1], $0.frames[0]], count: 4)[3] }
        let truth = clips.map { $0.states[5] }
        let right = VideoEvaluator.score(predicted: forward.map(VideoSimulator.render), truth: truth)
        let wrong = VideoEvaluator.score(predicted: backward.map(VideoSimulator.render), truth: truth)
        XCTAssertLessThan(wrong.shareWithinTolerance, right.shareWithinTolerance - 0.8)
    }

    func testFramesWithoutObjectsPredictNone() {
        let blank = VideoSimulator.render([])
        XCTAssertTrue(MotionExtrapolation.states(readFrom: [blank, blank]).isEmpty)
        XCTAssertTrue(MotionExtrapolation.states(readFrom: [blank]).isEmpty, "one frame has no motion")
        XCTAssertEqual(MotionExtrapolation.predict(after: [blank, blank], count: 3), [[], [], []])
    }
}
