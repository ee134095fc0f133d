//! Hostile components a Rust guest cannot easily be: many core instances, each with
//! its own linear memory, built here with `wasm-encoder`.
//!
//! Each one is a valid plugin: it imports nothing and exports
//! `palisade:plugin/interceptor@0.2.0`, so it passes the import check and links. Its
//! core instances are `memories` "growers" (a module with one memory and
//! `grow(pages) -> old size`), `empty` instances of an empty module, and the main
//! module, whose `on-request` grows every grower's memory by `grow_pages` and
//! executes `unreachable` when a growth is refused (as Rust's allocator aborts).
//! `on-response` does nothing.

use wasm_encoder::{
    Alias, CanonicalFunctionSection, CodeSection, Component, ComponentAliasSection,
    ComponentExportKind, ComponentExportSection, ComponentInstanceSection, ComponentTypeSection,
    ComponentValType, EntityType, ExportKind, ExportSection, Function, FunctionSection,
    ImportSection, InstanceSection, MemorySection, MemoryType, Module, ModuleArg, ModuleSection,
    TypeSection, ValType,
};

/// The cases of `palisade:plugin/types.code`, in order: the exported `on-response`
/// must take the same enum as the host's bindings.
const CODE_CASES: [&str; 17] = [
    "ok",
    "cancelled",
    "unknown",
    "invalid-argument",
    "deadline-exceeded",
    "not-found",
    "already-exists",
    "permission-denied",
    "resource-exhausted",
    "failed-precondition",
    "aborted",
    "out-of-range",
    "unimplemented",
    "internal",
    "unavailable",
    "data-loss",
    "unauthenticated",
];

/// The shape of one hostile component.
#[derive(Debug, Clone, Copy)]
pub(super) struct Shape {
    /// Core instances with a linear memory each.
    pub(super) memories: u32,
    /// Pages (64 KiB) each memory starts with.
    pub(super) initial_pages: u64,
    /// Pages `on-request` grows each memory by.
    pub(super) grow_pages: i32,
    /// Further core instances with nothing in them.
    pub(super) empty: u32,
}

impl Shape {
    /// Core instances the component holds: growers, empty ones, and the main one.
    pub(super) fn core_instances(&self) -> u32 {
        self.memories + self.empty + 1
    }
}

/// `(module (memory initial) (func (export "grow") (param i32) (result i32)
/// local.get 0 memory.grow))`.
fn grower(initial_pages: u64) -> Module {
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32], [ValType::I32]);
    let mut functions = FunctionSection::new();
    functions.function(0);
    let mut memories = MemorySection::new();
    memories.memory(MemoryType {
        minimum: initial_pages,
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    let mut exports = ExportSection::new();
    exports.export("grow", ExportKind::Func, 0);
    let mut body = Function::new([]);
    body.instructions().local_get(0).memory_grow(0).end();
    let mut code = CodeSection::new();
    code.function(&body);
    let mut module = Module::new();
    module
        .section(&types)
        .section(&functions)
        .section(&memories)
        .section(&exports)
        .section(&code);
    module
}

/// The main module: imports `g.grow<i>` for each grower, exports the two hooks.
fn main_module(memories: u32, grow_pages: i32) -> Module {
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32], [ValType::I32]); // grow
    types.ty().function([], []); // on-request
    types.ty().function([ValType::I32], []); // on-response
    let mut imports = ImportSection::new();
    for i in 0..memories {
        imports.import("g", &format!("grow{i}"), EntityType::Function(0));
    }
    let mut functions = FunctionSection::new();
    functions.function(1).function(2);
    let mut exports = ExportSection::new();
    exports
        .export("on-request", ExportKind::Func, memories)
        .export("on-response", ExportKind::Func, memories + 1);
    let mut on_request = Function::new([]);
    let mut sink = on_request.instructions();
    for i in 0..memories {
        // if grow(pages) == -1 { unreachable }
        sink.i32_const(grow_pages)
            .call(i)
            .i32_const(-1)
            .i32_eq()
            .if_(wasm_encoder::BlockType::Empty)
            .unreachable()
            .end();
    }
    sink.end();
    let mut on_response = Function::new([]);
    on_response.instructions().end();
    let mut code = CodeSection::new();
    code.function(&on_request).function(&on_response);
    let mut module = Module::new();
    module
        .section(&types)
        .section(&imports)
        .section(&functions)
        .section(&exports)
        .section(&code);
    module
}

/// The component's bytes.
pub(super) fn component(shape: Shape) -> Vec<u8> {
    build(shape, Module::new())
}

/// The component's bytes, with each of its `empty` core instances running a start
/// function that executes `unreachable`: it traps as it is instantiated, before any
/// hook can be called.
pub(super) fn component_with_trapping_start(shape: Shape) -> Vec<u8> {
    let mut types = TypeSection::new();
    types.ty().function([], []);
    let mut functions = FunctionSection::new();
    functions.function(0);
    let mut body = Function::new([]);
    body.instructions().unreachable().end();
    let mut code = CodeSection::new();
    code.function(&body);
    let mut module = Module::new();
    module
        .section(&types)
        .section(&functions)
        .section(&wasm_encoder::StartSection { function_index: 0 })
        .section(&code);
    build(shape, module)
}

fn build(shape: Shape, empty_module: Module) -> Vec<u8> {
    let Shape {
        memories,
        initial_pages,
        grow_pages,
        empty,
    } = shape;
    let mut component = Component::new();
    // Core modules 0, 1, 2: the grower, an empty module, the main module.
    component
        .section(&ModuleSection(&grower(initial_pages)))
        .section(&ModuleSection(&empty_module))
        .section(&ModuleSection(&main_module(memories, grow_pages)));
    // Core instances 0..memories: growers; then the empty ones.
    let mut instances = InstanceSection::new();
    for _ in 0..memories {
        instances.instantiate(0, Vec::<(&str, ModuleArg)>::new());
    }
    for _ in 0..empty {
        instances.instantiate(1, Vec::<(&str, ModuleArg)>::new());
    }
    component.section(&instances);
    // Core functions 0..memories: each grower's `grow`.
    let mut aliases = ComponentAliasSection::new();
    for i in 0..memories {
        aliases.alias(Alias::CoreInstanceExport {
            instance: i,
            kind: ExportKind::Func,
            name: "grow",
        });
    }
    component.section(&aliases);
    // Core instance `g` (its functions under the names the main module imports),
    // then the main instance.
    let names: Vec<String> = (0..memories).map(|i| format!("grow{i}")).collect();
    let g = memories + empty;
    let main = g + 1;
    let mut instances = InstanceSection::new();
    instances.export_items(
        names
            .iter()
            .enumerate()
            .map(|(i, name)| (name.as_str(), ExportKind::Func, i as u32)),
    );
    instances.instantiate(2, [("g", ModuleArg::Instance(g))]);
    component.section(&instances);
    // Core functions `memories` and `memories + 1`: the hooks.
    let mut aliases = ComponentAliasSection::new();
    for name in ["on-request", "on-response"] {
        aliases.alias(Alias::CoreInstanceExport {
            instance: main,
            kind: ExportKind::Func,
            name,
        });
    }
    component.section(&aliases);
    // Types: 0 = code, 1 = func(), 2 = func(status: code).
    let mut types = ComponentTypeSection::new();
    types.defined_type().enum_type(CODE_CASES);
    types
        .function()
        .params(Vec::<(&str, ComponentValType)>::new())
        .result(None);
    types
        .function()
        .params([("status", ComponentValType::Type(0))])
        .result(None);
    component.section(&types);
    let mut lifts = CanonicalFunctionSection::new();
    lifts.lift(memories, 1, []).lift(memories + 1, 2, []);
    component.section(&lifts);
    // The interceptor instance: the type first, so that the functions' signatures
    // refer to an exported (named) type.
    let mut exported = ComponentInstanceSection::new();
    exported.export_items([
        ("code", ComponentExportKind::Type, 0),
        ("on-request", ComponentExportKind::Func, 0),
        ("on-response", ComponentExportKind::Func, 1),
    ]);
    component.section(&exported);
    let mut exports = ComponentExportSection::new();
    exports.export(
        "palisade:plugin/interceptor@0.2.0",
        ComponentExportKind::Instance,
        0,
        None,
    );
    component.section(&exports);
    component.finish()
}
