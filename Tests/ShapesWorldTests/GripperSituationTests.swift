import XCTest
@testable import ShapesWorld

/// `GripperSituation`: where the gripper, the named object and the goal are, as `--locate-then-act`
/// teaches a model to write before acting.
final class GripperSituationTests: XCTestCase {
    func testTextNamesTheGripperTargetAndGoalCells() {
        let square = GridObject(shape: .square, color: .red, cell: GridCell(column: 3, row: 0))
        let circle = GridObject(shape: .circle, color: .blue, cell: GridCell(column: 1, row: 1))
        var world = GripperWorld(objects: [square, circle], gripper: GridCell(column: 1, row: 2))
        let place = GripperInstruction.place(ObjectReference(color: .red, shape: .square), .leftOf,
                                             ObjectReference(color: .blue, shape: .circle))
        XCTAssertEqual(GripperSituation.text(of: world, for: place), "gripper 1 2 open target 3 0 goal 0 1")
        let corner = GripperInstruction.moveToCorner(ObjectReference(color: .blue, shape: .circle), .bottomRight)
        XCTAssertEqual(GripperSituation.text(of: world, for: corner), "gripper 1 2 open target 1 1 goal 3 3")
        // Closed over the circle and carrying it to the left edge: the square's goal is off the grid.
        world.step(.up); world.step(.grasp); world.step(.left)
        XCTAssertEqual(GripperSituation.text(of: world, for: place), "gripper 0 1 closed target 3 0 goal none")
        let missing = GripperInstruction.moveToCorner(ObjectReference(color: .green, shape: .cross), .topLeft)
        XCTAssertEqual(GripperSituation.text(of: world, for: missing), "gripper 0 1 closed target none goal 0 0")
    }

    /// Over noisy demonstrations: `worlds()` are the pictured states, and every text fits the
    /// vocabulary and the room a model is given for it.
    func testEpisodeWorldsArePicturedAndTextsFitTheirWords() {
        for episode in TaskData.actionEpisodes(.heldOut, count: 20, noise: 0.25) {
            let worlds = episode.worlds()
            XCTAssertEqual(worlds.count, episode.executed.count)
            XCTAssertEqual(worlds.first, episode.task.world)
            for (world, frame) in zip(worlds, episode.frames) {
                XCTAssertEqual(world.render(), frame)
                let words = GripperSituation.text(of: world, for: episode.task.instruction).split(separator: " ").map(String.init)
                XCTAssertLessThanOrEqual(words.count, GripperSituation.maximumWords)
                XCTAssertTrue(words.allSatisfy(GripperSituation.words.contains), "\(words)")
            }
        }
    }
}
