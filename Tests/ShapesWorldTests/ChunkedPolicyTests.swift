import XCTest
@testable import ShapesWorld

final class ChunkedPolicyTests: XCTestCase {
    /// The expert's whole plan, predicted once and executed open loop, solves every task: the
    /// harness runs chunks exactly as the plan says, asking for a new one only when it is used up.
    func testExpertPlanExecutedInChunksSolvesEveryTaskWithFewerPredictions() {
        let tasks = TaskData.actionTasks(.heldOut, count: 12)
        for executed in [1, 3, 8] {
            var policy = ChunkedPolicy(executed: executed)
            var predictions = 0
            let result = ActionEvaluator.evaluate(tasks) { observation in
                policy.action(for: observation) { seen in
                    predictions += 1
                    return GripperExpert.solve(GripperTask(world: seen.world, instruction: seen.instruction))
                }
            }
            XCTAssertEqual(result.successes, tasks.count, "executing \(executed) of each plan")
            XCTAssertEqual(result.expertAgreement, 1, accuracy: 1e-12)
            // One prediction per `executed` steps of each episode (its last chunk may be shorter).
            let expected = tasks.map { (GripperExpert.solve($0).count + executed - 1) / executed }.reduce(0, +)
            XCTAssertEqual(predictions, expected, "executing \(executed) of each plan")
        }
    }

    /// A new episode drops the old plan's remainder, and an empty prediction stops.
    func testNewEpisodeDropsTheRestOfTheChunkAndEmptyPredictionStops() throws {
        let task = TaskData.actionTasks(.heldOut, count: 1)[0]
        func observation(episode: Int, step: Int) -> ActionObservation {
            ActionObservation(episode: episode, step: step, instruction: task.instruction, instructionText: task.instruction.text,
                              image: task.world.render(), previousActions: [], world: task.world)
        }
        var policy = ChunkedPolicy(executed: 4)
        XCTAssertEqual(policy.action(for: observation(episode: 0, step: 0)) { _ in [.left, .up, .up] }, .left)
        XCTAssertEqual(policy.action(for: observation(episode: 0, step: 1)) { _ in XCTFail("chunk not used up"); return [] }, .up)
        XCTAssertEqual(policy.action(for: observation(episode: 1, step: 0)) { _ in [.grasp, .right] }, .grasp)
        XCTAssertEqual(policy.action(for: observation(episode: 1, step: 1)) { _ in XCTFail("chunk not used up"); return [] }, .right)
        XCTAssertEqual(policy.action(for: observation(episode: 1, step: 2)) { _ in [] }, .stop)
    }
}
