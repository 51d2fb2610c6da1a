import Foundation

/// A vertex of the reverse-mode graph: the inputs an op read and how to turn the gradient of
/// its output into gradients of those inputs. Leaves (parameters) have no inputs and keep `grad`.
public final class AutogradNode: @unchecked Sendable {
    /// Gradient accumulated during `backward()`; read it from a leaf through `Tensor.grad`.
    public internal(set) var grad: Tensor?
    let inputs: [AutogradNode?]
    let backwardFunction: ((Tensor) -> [Tensor?])?
    public let name: String

    init(name: String, inputs: [AutogradNode?], backward: ((Tensor) -> [Tensor?])?) {
        self.name = name
        self.inputs = inputs
        self.backwardFunction = backward
    }

    public var isLeaf: Bool { backwardFunction == nil }
}

/// Reverse-mode automatic differentiation over `Tensor` ops.
///
/// Ops call `record` after computing their output; when recording is on and any input is in a
/// graph, the output gets a node whose backward closure maps the output gradient to input
/// gradients (computed with ordinary ops, with recording off). `Tensor.backward()` walks the graph
/// in reverse topological order and accumulates gradients into the leaves.
public enum Autograd {
    @TaskLocal public static var isRecording = true

    /// Runs `body` with recording off (inference, optimizer updates).
    public static func withoutGradients<T>(_ body: () throws -> T) rethrows -> T {
        try $isRecording.withValue(false) { try body() }
    }

    /// Attaches a node to `output` when recording and some input is in a graph.
    public static func record(_ output: Tensor, inputs: [Tensor], name: String = #function,
                              backward: @escaping (Tensor) -> [Tensor?]) -> Tensor {
        guard isRecording, inputs.contains(where: { $0.node != nil }) else { return output }
        var out = output
        out.node = AutogradNode(name: name, inputs: inputs.map(\.node), backward: backward)
        return out
    }
}

extension Tensor {
    /// This tensor as a leaf of a graph (a trainable parameter); gradients collect in `grad`.
    public func requiringGradient(name: String = "") -> Tensor {
        var t = self
        t.node = AutogradNode(name: name, inputs: [], backward: nil)
        return t
    }

    public var requiresGradient: Bool { node != nil }

    /// The gradient accumulated into this leaf by the last `backward()`.
    public var grad: Tensor? { node?.grad }

    /// Clears the accumulated gradient of this leaf.
    public func zeroGradient() { node?.grad = nil }

    /// Back-propagates from this tensor. With no seed it must hold one element (a loss), seeded 1.
    public func backward(seed: Tensor? = nil) {
        guard let root = node else { return }
        let seedGrad = seed ?? Tensor([1], shape: shape)
        Autograd.withoutGradients {
            // Reverse topological order by iterative DFS.
            var order: [AutogradNode] = []
            var visited = Set<ObjectIdentifier>()
            var stack: [(AutogradNode, Bool)] = [(root, false)]
            while let (n, expanded) = stack.popLast() {
                if expanded { order.append(n); continue }
                if visited.contains(ObjectIdentifier(n)) { continue }
                visited.insert(ObjectIdentifier(n))
                stack.append((n, true))
                for case let i? in n.inputs where !visited.contains(ObjectIdentifier(i)) { stack.append((i, false)) }
            }
            var pending: [ObjectIdentifier: Tensor] = [ObjectIdentifier(root): seedGrad]
            for n in order.reversed() {
                guard let g = pending.removeValue(forKey: ObjectIdentifier(n)) else { continue }
                guard let fn = n.backwardFunction else {
                    n.grad = n.grad.map { $0.adding(g) } ?? g
                    continue
                }
                let inputGrads = fn(g)
                for (input, ig) in zip(n.inputs, inputGrads) {
                    guard let input, let ig else { continue }
                    let key = ObjectIdentifier(input)
                    pending[key] = pending[key].map { $0.adding(ig) } ?? ig
                }
            }
        }
    }
}
