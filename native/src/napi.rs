//! The only FFI layer: Node-API declared by hand (no napi crate), two exported functions.
//!   call(op, args[])                  -> string | Buffer          (sync, light operations)
//!   callAsync(op, args[], progress?)  -> Promise<string | Buffer> (libuv thread pool)
//! `progress` is an optional Float64Array(3) [done, total, bytes] the worker updates in place and
//! the facade polls. Every entry point catches panics; errors become JS Errors with `code`.

use crate::error::{Error, Kind};
use crate::ops::{dispatch, Out};
use crate::progress::Progress;
use std::ffi::{c_char, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::null_mut;

type Env = *mut c_void;
type Value = *mut c_void;
type CbInfo = *mut c_void;
type Deferred = *mut c_void;
type AsyncWork = *mut c_void;
type Ref = *mut c_void;
type Status = i32;
type Callback = unsafe extern "C" fn(Env, CbInfo) -> Value;
type Execute = unsafe extern "C" fn(Env, *mut c_void);
type Complete = unsafe extern "C" fn(Env, Status, *mut c_void);

const NAPI_OK: Status = 0;
const NAPI_FLOAT64_ARRAY: i32 = 8;

extern "C" {
    fn napi_create_function(
        env: Env,
        name: *const c_char,
        len: usize,
        cb: Callback,
        data: *mut c_void,
        result: *mut Value,
    ) -> Status;
    fn napi_set_named_property(env: Env, obj: Value, name: *const c_char, v: Value) -> Status;
    fn napi_get_cb_info(
        env: Env,
        info: CbInfo,
        argc: *mut usize,
        argv: *mut Value,
        this: *mut Value,
        data: *mut *mut c_void,
    ) -> Status;
    fn napi_get_value_string_utf8(env: Env, v: Value, buf: *mut c_char, size: usize, result: *mut usize) -> Status;
    fn napi_create_string_utf8(env: Env, s: *const c_char, len: usize, result: *mut Value) -> Status;
    fn napi_create_buffer_copy(
        env: Env,
        len: usize,
        data: *const c_void,
        result_data: *mut *mut c_void,
        result: *mut Value,
    ) -> Status;
    fn napi_create_error(env: Env, code: Value, msg: Value, result: *mut Value) -> Status;
    fn napi_throw(env: Env, err: Value) -> Status;
    fn napi_create_double(env: Env, v: f64, result: *mut Value) -> Status;
    fn napi_get_array_length(env: Env, v: Value, result: *mut u32) -> Status;
    fn napi_get_element(env: Env, obj: Value, i: u32, result: *mut Value) -> Status;
    fn napi_is_typedarray(env: Env, v: Value, result: *mut bool) -> Status;
    fn napi_get_typedarray_info(
        env: Env,
        v: Value,
        typ: *mut i32,
        len: *mut usize,
        data: *mut *mut c_void,
        ab: *mut Value,
        off: *mut usize,
    ) -> Status;
    fn napi_create_promise(env: Env, deferred: *mut Deferred, promise: *mut Value) -> Status;
    fn napi_resolve_deferred(env: Env, d: Deferred, v: Value) -> Status;
    fn napi_reject_deferred(env: Env, d: Deferred, v: Value) -> Status;
    fn napi_create_async_work(
        env: Env,
        res: Value,
        name: Value,
        exec: Execute,
        complete: Complete,
        data: *mut c_void,
        result: *mut AsyncWork,
    ) -> Status;
    fn napi_queue_async_work(env: Env, w: AsyncWork) -> Status;
    fn napi_delete_async_work(env: Env, w: AsyncWork) -> Status;
    fn napi_create_reference(env: Env, v: Value, n: u32, result: *mut Ref) -> Status;
    fn napi_delete_reference(env: Env, r: Ref) -> Status;
}

unsafe fn string(env: Env, s: &str) -> Value {
    let mut v = null_mut();
    napi_create_string_utf8(env, s.as_ptr() as *const c_char, s.len(), &mut v);
    v
}

unsafe fn error_value(env: Env, e: &Error) -> Value {
    let mut v = null_mut();
    napi_create_error(env, string(env, e.kind.code()), string(env, &e.msg), &mut v);
    if let Some(n) = e.node {
        let mut nv = null_mut();
        napi_create_double(env, n as f64, &mut nv);
        napi_set_named_property(env, v, c"node".as_ptr(), nv);
    }
    v
}

unsafe fn out_value(env: Env, o: Out) -> Value {
    match o {
        Out::Json(s) => string(env, &s),
        Out::Bytes(b) => {
            let mut v = null_mut();
            let mut d = null_mut();
            napi_create_buffer_copy(env, b.len(), b.as_ptr() as *const c_void, &mut d, &mut v);
            v
        }
    }
}

unsafe fn get_string(env: Env, v: Value) -> Result<String, Error> {
    let mut len = 0usize;
    if napi_get_value_string_utf8(env, v, null_mut(), 0, &mut len) != NAPI_OK {
        return Err(Error::new(Kind::Usage, "expected a string argument"));
    }
    let mut buf = vec![0u8; len + 1];
    napi_get_value_string_utf8(env, v, buf.as_mut_ptr() as *mut c_char, len + 1, &mut len);
    buf.truncate(len);
    String::from_utf8(buf).map_err(|_| Error::new(Kind::Usage, "argument is not valid UTF-8"))
}

unsafe fn get_args(env: Env, info: CbInfo, want: usize) -> Result<Vec<Value>, Error> {
    let mut argc = want;
    let mut argv = vec![null_mut(); want];
    if napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), null_mut(), null_mut()) != NAPI_OK {
        return Err(Error::new(Kind::Usage, "cannot read call arguments"));
    }
    argv.truncate(argc.min(want));
    Ok(argv)
}

/// (op, args[]) from the first two JS arguments.
unsafe fn op_and_args(env: Env, argv: &[Value]) -> Result<(String, Vec<String>), Error> {
    if argv.len() < 2 {
        return Err(Error::new(Kind::Usage, "expected (op: string, args: string[])"));
    }
    let op = get_string(env, argv[0])?;
    let mut n = 0u32;
    if napi_get_array_length(env, argv[1], &mut n) != NAPI_OK {
        return Err(Error::new(Kind::Usage, "args must be an array of strings"));
    }
    let mut args = Vec::with_capacity(n as usize);
    for i in 0..n {
        let mut v = null_mut();
        napi_get_element(env, argv[1], i, &mut v);
        args.push(get_string(env, v)?);
    }
    Ok((op, args))
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> Error {
    let m = p
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown".into());
    Error::new(
        Kind::Io,
        format!("internal error in the native secure-FS engine (please report): {}", m),
    )
}

unsafe extern "C" fn call(env: Env, info: CbInfo) -> Value {
    let r = catch_unwind(AssertUnwindSafe(|| -> Result<Out, Error> {
        let argv = get_args(env, info, 2)?;
        let (op, args) = op_and_args(env, &argv)?;
        dispatch(&op, &args, &Progress::new())
    }));
    match r.unwrap_or_else(|p| Err(panic_message(p))) {
        Ok(o) => out_value(env, o),
        Err(e) => {
            napi_throw(env, error_value(env, &e));
            null_mut()
        }
    }
}

struct Work {
    op: String,
    args: Vec<String>,
    progress_ref: Ref,
    progress_ptr: *mut f64,
    deferred: Deferred,
    work: AsyncWork,
    result: Option<Result<Out, Error>>,
}

unsafe extern "C" fn execute(_env: Env, data: *mut c_void) {
    // Runs on a libuv pool thread: no Node-API calls here.
    let w = &mut *(data as *mut Work);
    let progress = if w.progress_ptr.is_null() {
        Progress::new()
    } else {
        Progress::with_mirror(w.progress_ptr)
    };
    let r = catch_unwind(AssertUnwindSafe(|| dispatch(&w.op, &w.args, &progress)));
    w.result = Some(r.unwrap_or_else(|p| Err(panic_message(p))));
}

unsafe extern "C" fn complete(env: Env, _status: Status, data: *mut c_void) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let w = Box::from_raw(data as *mut Work);
        match w.result {
            Some(Ok(o)) => {
                napi_resolve_deferred(env, w.deferred, out_value(env, o));
            }
            Some(Err(ref e)) => {
                napi_reject_deferred(env, w.deferred, error_value(env, e));
            }
            None => {
                napi_reject_deferred(
                    env,
                    w.deferred,
                    error_value(env, &Error::new(Kind::Io, "native work was cancelled")),
                );
            }
        }
        if !w.progress_ref.is_null() {
            napi_delete_reference(env, w.progress_ref);
        }
        napi_delete_async_work(env, w.work);
    }));
}

unsafe extern "C" fn call_async(env: Env, info: CbInfo) -> Value {
    let r = catch_unwind(AssertUnwindSafe(|| -> Result<Value, Error> {
        let argv = get_args(env, info, 3)?;
        let (op, args) = op_and_args(env, &argv)?;
        let (mut pref, mut pptr) = (null_mut(), null_mut::<f64>());
        if argv.len() > 2 {
            let mut is_ta = false;
            napi_is_typedarray(env, argv[2], &mut is_ta);
            if is_ta {
                let (mut typ, mut len, mut data, mut ab, mut off) = (0i32, 0usize, null_mut(), null_mut(), 0usize);
                napi_get_typedarray_info(env, argv[2], &mut typ, &mut len, &mut data, &mut ab, &mut off);
                if typ != NAPI_FLOAT64_ARRAY || len < 3 {
                    return Err(Error::new(
                        Kind::Usage,
                        "progress must be a Float64Array of length >= 3",
                    ));
                }
                // Keep the array alive until `complete`.
                napi_create_reference(env, argv[2], 1, &mut pref);
                pptr = data as *mut f64;
            }
        }
        let mut deferred = null_mut();
        let mut promise = null_mut();
        napi_create_promise(env, &mut deferred, &mut promise);
        let w = Box::into_raw(Box::new(Work {
            op,
            args,
            progress_ref: pref,
            progress_ptr: pptr,
            deferred,
            work: null_mut(),
            result: None,
        }));
        let name = string(env, "occlum_studio_native");
        let mut work = null_mut();
        if napi_create_async_work(env, null_mut(), name, execute, complete, w as *mut c_void, &mut work) != NAPI_OK {
            drop(Box::from_raw(w));
            return Err(Error::new(Kind::Io, "napi_create_async_work failed"));
        }
        (*w).work = work;
        napi_queue_async_work(env, work);
        Ok(promise)
    }));
    match r.unwrap_or_else(|p| Err(panic_message(p))) {
        Ok(v) => v,
        Err(e) => {
            napi_throw(env, error_value(env, &e));
            null_mut()
        }
    }
}

/// # Safety
/// Called by Node only, once, with the module's environment and exports object.
#[no_mangle]
pub unsafe extern "C" fn napi_register_module_v1(env: Env, exports: Value) -> Value {
    // Panics are caught and turned into JS errors; keep the default hook from printing them.
    std::panic::set_hook(Box::new(|_| {}));
    let fns: [(&std::ffi::CStr, Callback); 2] = [(c"call", call), (c"callAsync", call_async)];
    for (name, f) in fns {
        let mut v = null_mut();
        napi_create_function(env, name.as_ptr(), name.to_bytes().len(), f, null_mut(), &mut v);
        napi_set_named_property(env, exports, name.as_ptr(), v);
    }
    exports
}
