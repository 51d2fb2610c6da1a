import EmuIO
import XCTest
@testable import ShapesWorld

final class VideoTests: XCTestCase {
    func testObjectsStayInsideApartAndMoveByTheirVelocity() {
        var bounces = 0, collisions = 0
        for clip in TaskData.videoClips(.train, count: 300) {
            XCTAssertEqual(clip.frames.count, 8)
            for (f, states) in clip.states.enumerated() {
                XCTAssertTrue(VideoSimulator.isSeparated(states))
                XCTAssertEqual(clip.frames[f], VideoSimulator.render(states))
                for state in states {
                    let h = state.object.halfSize
                    XCTAssertTrue(state.object.x - h >= 0 && state.object.x + h <= 64 && state.object.y - h >= 0
                                  && state.object.y + h <= 64, "frame \(f) \(state)")
                }
                guard f > 0 else { continue }
                let before = clip.states[f - 1]
                // Equal-mass elastic contacts exchange velocities, so without a wall bounce the sum of
                // velocities is conserved, and every speed component keeps its magnitude.
                XCTAssertEqual(before.map { abs($0.vx) }.sorted() + before.map { abs($0.vy) }.sorted(),
                               states.map { abs($0.vx) }.sorted() + states.map { abs($0.vy) }.sorted())
                for (a, b) in zip(before, states) {
                    let movedFreely = b.object.x == a.object.x + Double(a.vx) && b.object.y == a.object.y + Double(a.vy)
                    if a.vx != b.vx || a.vy != b.vy {
                        if a.vx == -b.vx && a.vy == b.vy || a.vy == -b.vy && a.vx == b.vx { bounces += 1 } else { collisions += 1 }
                    } else if !movedFreely {
                        // Several contacts in one frame can hand a velocity back (a chain of exchanges),
                        // but only an object in contact may be held back.
                        let inContact = states.contains { other in
                            other != b && abs(other.object.x - b.object.x) < other.object.halfSize + b.object.halfSize + 8
                                && abs(other.object.y - b.object.y) < other.object.halfSize + b.object.halfSize + 8
                        }
                        XCTAssertTrue(inContact, "an object kept its velocity, did not move by it, touched nothing")
                    }
                }
            }
            XCTAssertFalse(clip.caption.isEmpty)
        }
        XCTAssertGreaterThan(bounces, 50, "walls bounce objects")
        XCTAssertGreaterThan(collisions, 5, "objects bounce off each other")
    }

    func testWallBounceMirrorsPosition() {
        let object = SceneObject(shape: .square, color: .red, size: .small, x: 7, y: 30)
        let next = VideoSimulator.step([ObjectState(object: object, vx: -3, vy: 0)])
        XCTAssertEqual(next[0].object.x, 8)  // 7 - 3 = 4 is 2 px past the wall at 6: mirrored to 8
        XCTAssertEqual(next[0].vx, 3)
    }

    func testHeadOnCollisionExchangesVelocities() {
        let a = SceneObject(shape: .circle, color: .red, size: .small, x: 20, y: 32)
        let b = SceneObject(shape: .square, color: .blue, size: .small, x: 36, y: 32)
        let next = VideoSimulator.step([ObjectState(object: a, vx: 3, vy: 0), ObjectState(object: b, vx: -1, vy: 0)])
        XCTAssertEqual(next.map(\.vx), [-1, 3])
        XCTAssertTrue(VideoSimulator.isSeparated(next))
    }
}

final class GripperTests: XCTestCase {
    func testExpertSolvesEveryInstruction() {
        let tasks = TaskData.actionTasks(.train, count: 400) + TaskData.actionTasks(.heldOut, count: 100)
        let evaluation = ActionEvaluator.evaluate(tasks, policy: ActionEvaluator.expertPolicy)
        XCTAssertEqual(evaluation.successRate, 1.0)
        XCTAssertLessThan(evaluation.meanSteps, 20)
        XCTAssertEqual(evaluation.expertAgreement, 1.0)
        XCTAssertEqual(Set(evaluation.expertAgreementByDecision.keys), Set(GripperDecision.allCases))
        XCTAssertTrue(evaluation.expertAgreementByDecision.values.allSatisfy { $0 == 1.0 })
        var kinds = Set<String>()
        for task in tasks {
            kinds.insert(task.instruction.text.hasPrefix("put") ? "place" : "corner")
            XCTAssertEqual(try GripperInstruction(parsing: task.instruction.text), task.instruction)
        }
        XCTAssertEqual(kinds.count, 2)
    }

    func testExpertAgreementCountsEachStep() {
        let tasks = TaskData.actionTasks(.heldOut, count: 30)
        // Stopping at once never agrees: no task starts solved.
        let stopper = ActionEvaluator.evaluate(tasks) { _ in .stop }
        XCTAssertEqual(stopper.meanSteps, 1)
        XCTAssertEqual(stopper.expertAgreement, 0)
        // The expert for two steps, then `stop`: the third step agrees only where the expert's own
        // episode is three actions long (grasp, one move, stop).
        let truncated = ActionEvaluator.evaluate(tasks) { observation in
            observation.step < 2 ? ActionEvaluator.expertPolicy(observation) : .stop
        }
        let expertEpisodes = tasks.map { GripperExpert.solve($0) }
        XCTAssertTrue(expertEpisodes.allSatisfy { $0.count >= 3 })
        let shortOnes = Double(expertEpisodes.filter { $0.count == 3 }.count)
        XCTAssertEqual(truncated.meanSteps, 3)
        XCTAssertEqual(truncated.expertAgreement, (2 * Double(tasks.count) + shortOnes) / (3 * Double(tasks.count)), accuracy: 1e-12)
        XCTAssertEqual(truncated.successRate, shortOnes / Double(tasks.count), accuracy: 1e-12)
        XCTAssertEqual(truncated.expertAgreementByDecision[.stop], shortOnes > 0 ? 1 : nil)
    }

    func testExpertStateAccuracy() {
        let episodes = TaskData.actionEpisodes(.heldOut, count: 30)
        let expert = ActionEvaluator.expertStateAccuracy(episodes, policy: ActionEvaluator.expertPolicy)
        XCTAssertEqual(expert.states, episodes.map(\.actions.count).reduce(0, +))
        XCTAssertEqual(expert.accuracy, 1)
        // A policy that always grasps is right exactly on the grasps: one per episode.
        let grasper = ActionEvaluator.expertStateAccuracy(episodes) { _ in .grasp }
        XCTAssertEqual(grasper.accuracy, Double(episodes.count) / Double(expert.states), accuracy: 1e-12)
        XCTAssertEqual(grasper.byDecision[.grasp], 1)
        XCTAssertEqual(grasper.byDecision[.carry], 0)
        XCTAssertEqual(grasper.statesByDecision[.grasp], episodes.count)
        XCTAssertEqual(grasper.statesByDecision.values.reduce(0, +), expert.states)
        // The policy sees the expert's frames, not a world of its own making.
        var seen: [RGBImage] = []
        _ = ActionEvaluator.expertStateAccuracy(Array(episodes.prefix(1))) { seen.append($0.image); return .stop }
        XCTAssertEqual(seen, Array(episodes[0].frames.dropLast()))
    }

    func testDemonstrationsEndSolvedWithStop() {
        for episode in TaskData.actionEpisodes(.heldOut, count: 50) {
            XCTAssertEqual(episode.frames.count, episode.actions.count + 1)
            XCTAssertEqual(episode.actions.last, .stop)
            var world = episode.task.world
            XCTAssertFalse(episode.task.instruction.isSatisfied(in: world))
            for action in episode.actions { world.step(action) }
            XCTAssertTrue(episode.task.instruction.isSatisfied(in: world))
        }
    }

    func testNoisyDemonstrationsLabelTheExpertOnDisturbedStates() {
        let tasks = TaskData.actionTasks(.heldOut, count: 60)
        let episodes = TaskData.actionEpisodes(.heldOut, count: 60, noise: 0.3)
        XCTAssertEqual(episodes, TaskData.actionEpisodes(.heldOut, count: 60, noise: 0.3), "seeded")
        XCTAssertEqual(TaskData.actionEpisodes(.heldOut, count: 5, noise: 0), TaskData.actionEpisodes(.heldOut, count: 5))
        var disturbed = 0, steps = 0, solved = 0, closedOnNothing = 0
        for (episode, task) in zip(episodes, tasks) {
            XCTAssertEqual(episode.task, task)
            XCTAssertEqual(episode.frames.count, episode.actions.count + 1)
            XCTAssertEqual(episode.executed.count, episode.actions.count)
            // Replaying what the gripper did gives the frames, and every label is the expert's action there.
            var world = task.world
            for (k, executed) in episode.executed.enumerated() {
                XCTAssertEqual(episode.frames[k], world.render())
                XCTAssertEqual(episode.actions[k], GripperExpert.action(in: world, for: task.instruction))
                if world.isClosed && world.heldObject == nil { closedOnNothing += 1 }
                if executed != episode.actions[k] { disturbed += 1 }
                world.step(executed)
            }
            XCTAssertEqual(episode.frames.last, world.render())
            steps += episode.actions.count
            if episode.actions.last == .stop && task.instruction.isSatisfied(in: world) { solved += 1 }
        }
        // About 0.3 x 5/6 of the steps are disturbed (a random action is the expert's one time in six).
        XCTAssertEqual(Double(disturbed) / Double(steps), 0.25, accuracy: 0.06)
        XCTAssertGreaterThan(closedOnNothing, 0, "states a clean demonstration never shows")
        XCTAssertGreaterThanOrEqual(solved, 54, "the expert recovers from nearly every disturbance")
    }

    func testExpertPlansAreTheExpertsNextActions() {
        for episode in TaskData.actionEpisodes(.heldOut, count: 20) {
            let plans = episode.expertPlans(length: 4)
            XCTAssertEqual(plans.count, episode.actions.count)
            for (k, plan) in plans.enumerated() {
                XCTAssertEqual(plan, Array(episode.actions[k..<min(k + 4, episode.actions.count)]), "a clean episode's own next actions")
            }
        }
        // In a disturbed episode each plan starts from the state the disturbances led to.
        var replanned = 0
        for episode in TaskData.actionEpisodes(.heldOut, count: 20, noise: 0.3) {
            let plans = episode.expertPlans(length: 3)
            XCTAssertEqual(plans.map(\.first), episode.actions.map { Optional($0) })
            for (k, plan) in plans.enumerated() where k + 1 < episode.actions.count && plan.count > 1 && plan[1] != episode.actions[k + 1] {
                replanned += 1
            }
        }
        XCTAssertGreaterThan(replanned, 0)
    }

    func testStepRulesAndRendering() {
        var world = GripperWorld(objects: [GridObject(shape: .circle, color: .red, cell: GridCell(column: 0, row: 0)),
                                           GridObject(shape: .square, color: .blue, cell: GridCell(column: 1, row: 0))],
                                 gripper: GridCell(column: 0, row: 0))
        XCTAssertFalse(world.step(.up), "walls stop the gripper")
        let open = world.render()
        world.step(.grasp)
        XCTAssertEqual(world.heldObject, 0)
        XCTAssertNotEqual(world.render(), open, "closed and open grippers look different")
        XCTAssertFalse(world.step(.right), "a held object cannot enter an occupied cell")
        world.step(.down)
        XCTAssertEqual(world.objects[0].cell, GridCell(column: 0, row: 1))
        world.step(.release); world.step(.up)
        XCTAssertEqual(world.objects[0].cell, GridCell(column: 0, row: 1), "released objects stay")
        let below = GripperInstruction.place(ObjectReference(color: .red, shape: .circle), .below,
                                             ObjectReference(color: .blue, shape: .square))
        XCTAssertFalse(below.isSatisfied(in: world))
        XCTAssertTrue(GripperInstruction.place(ObjectReference(color: .red, shape: .circle), .leftOf,
                                               ObjectReference(color: .blue, shape: .square)).isSatisfied(in: world) == false)
        XCTAssertThrowsError(try GripperInstruction(parsing: "put the red circle near the blue square"))
        XCTAssertEqual(try GripperInstruction(parsing: "Move the red circle to the top left."),
                       .moveToCorner(ObjectReference(color: .red, shape: .circle), .topLeft))
    }
}
