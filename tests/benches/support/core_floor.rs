//! Raw wasmtime floors: a core-module call with no component model, no store data
//! and no host functions; and the compute guest's loop as a core module on engines
//! that differ only in how they meter CPU.

use wasm_encoder::{
    BlockType, CodeSection, ExportKind, ExportSection, Function, FunctionSection, Module,
    TypeSection, ValType,
};
use wasmtime::{Config, Engine, Instance, Store, TypedFunc};

/// Steps of the xorshift walk; the same as `tests/guests/compute`.
pub(crate) const ROUNDS: i32 = 200_000;

/// A module with one function, `export: (ty) -> ty`, whose code is `body`.
fn one_function_module(export: &str, ty: ValType, body: &Function) -> Vec<u8> {
    let mut types = TypeSection::new();
    types.ty().function([ty], [ty]);
    let mut functions = FunctionSection::new();
    functions.function(0);
    let mut exports = ExportSection::new();
    exports.export(export, ExportKind::Func, 0);
    let mut code = CodeSection::new();
    code.function(body);
    let mut module = Module::new();
    module
        .section(&types)
        .section(&functions)
        .section(&exports)
        .section(&code);
    module.finish()
}

/// A module exporting `f: (i32) -> i32`, `x + 1`.
fn floor_module() -> Vec<u8> {
    let mut body = Function::new([]);
    body.instructions()
        .local_get(0)
        .i32_const(1)
        .i32_add()
        .end();
    one_function_module("f", ValType::I32, &body)
}

/// A module exporting `walk: (i64 seed) -> i64`, the compute guest's loop.
fn kernel_module() -> Vec<u8> {
    // Locals: 0 = seed/x (param), 1 = acc, 2 = i.
    let mut body = Function::new([(1, ValType::I64), (1, ValType::I32)]);
    let (x, acc, i) = (0, 1, 2);
    let mut sink = body.instructions();
    sink.local_get(x).i64_const(1).i64_or().local_set(x);
    sink.loop_(BlockType::Empty);
    // x ^= x << 13; x ^= x >> 7; x ^= x << 17
    for (shift, left) in [(13, true), (7, false), (17, true)] {
        sink.local_get(x).local_get(x).i64_const(shift);
        if left {
            sink.i64_shl();
        } else {
            sink.i64_shr_u();
        }
        sink.i64_xor().local_set(x);
    }
    // acc += x.rotate_left(x & 63)
    sink.local_get(acc)
        .local_get(x)
        .local_get(x)
        .i64_const(63)
        .i64_and()
        .i64_rotl()
        .i64_add()
        .local_set(acc);
    // while ++i < ROUNDS
    sink.local_get(i)
        .i32_const(1)
        .i32_add()
        .local_tee(i)
        .i32_const(ROUNDS)
        .i32_lt_s()
        .br_if(0)
        .end();
    sink.local_get(acc).end();
    one_function_module("walk", ValType::I64, &body)
}

/// The second floor: one call of a core function through wasmtime's typed API.
pub(crate) struct Floor {
    store: Store<()>,
    f: TypedFunc<i32, i32>,
}

impl Floor {
    pub(crate) fn new() -> Self {
        let engine = Engine::default();
        let module = wasmtime::Module::new(&engine, floor_module()).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let f = instance.get_typed_func(&mut store, "f").unwrap();
        Self { store, f }
    }

    pub(crate) fn call(&mut self, x: i32) -> i32 {
        self.f.call(&mut self.store, x).unwrap()
    }
}

/// How an engine bounds the CPU a call may use.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Metering {
    /// Not at all.
    None,
    /// Epoch interruption (a deadline check at loop headers and function entries).
    Epoch,
    /// Fuel (a counter updated per basic block).
    Fuel,
}

/// The compute loop on an engine with one kind of metering.
pub(crate) struct Kernel {
    store: Store<()>,
    walk: TypedFunc<i64, i64>,
    metering: Metering,
}

impl Kernel {
    pub(crate) fn new(metering: Metering) -> Self {
        let mut config = Config::new();
        config
            .epoch_interruption(matches!(metering, Metering::Epoch))
            .consume_fuel(matches!(metering, Metering::Fuel));
        let engine = Engine::new(&config).unwrap();
        let module = wasmtime::Module::new(&engine, kernel_module()).unwrap();
        let mut store = Store::new(&engine, ());
        if let Metering::Fuel = metering {
            store.set_fuel(u64::MAX / 2).unwrap();
        }
        if let Metering::Epoch = metering {
            store.set_epoch_deadline(u64::MAX / 2);
        }
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let walk = instance.get_typed_func(&mut store, "walk").unwrap();
        Self {
            store,
            walk,
            metering,
        }
    }

    /// One call, re-armed the way the host arms each call.
    pub(crate) fn walk(&mut self, seed: i64) -> i64 {
        match self.metering {
            Metering::None => {}
            Metering::Epoch => self.store.set_epoch_deadline(u64::MAX / 2),
            Metering::Fuel => self.store.set_fuel(u64::MAX / 2).unwrap(),
        }
        self.walk.call(&mut self.store, seed).unwrap()
    }
}

/// The component-model floor: a typed call of `add-one: func(u32) -> u32` on the
/// `tests/guests/bare` component (no resources, no strings, no host calls), on a
/// default engine.
pub(crate) struct ComponentFloor {
    store: Store<()>,
    f: wasmtime::component::TypedFunc<(u32,), (u32,)>,
}

impl ComponentFloor {
    pub(crate) fn new(path: &str) -> Self {
        let engine = Engine::default();
        let component = wasmtime::component::Component::from_file(&engine, path).unwrap();
        let mut linker = wasmtime::component::Linker::new(&engine);
        // Whatever std imports is never called by `add-one`.
        linker.define_unknown_imports_as_traps(&component).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = linker.instantiate(&mut store, &component).unwrap();
        let f = instance
            .get_typed_func::<(u32,), (u32,)>(&mut store, "add-one")
            .unwrap();
        Self { store, f }
    }

    pub(crate) fn call(&mut self, x: u32) -> u32 {
        self.f.call(&mut self.store, (x,)).unwrap().0
    }
}
