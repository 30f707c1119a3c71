//! The operations the JS facade calls, each taking string arguments and returning JSON text or
//! bytes. Stateless: every call opens what it needs (metadata is small; the cost is one PF read).

use crate::beneath;
use crate::crypto::{hex, mac_string, parse_dashed16, parse_hex, Gcm};
use crate::error::{err, Error, Kind, Result};
use crate::pack::{pack_vouched, recover, seed_from, PackOpts};
use crate::pf::{self, KeyMode, SimIdentity, WriteKey};
use crate::progress::Progress;
use crate::sefs::{type_name, Inode, Sefs, T_DIR, T_SYMLINK};
use crate::union::{Binding, MEntry, Union};
use crate::verify::verify;
use std::path::{Path, PathBuf};

pub enum Out {
    Json(String),
    Bytes(Vec<u8>),
}

/// Minimal JSON writer (std only).
pub fn js(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

struct Obj(Vec<String>);
impl Obj {
    fn new() -> Obj {
        Obj(Vec::new())
    }
    fn s(mut self, k: &str, v: &str) -> Obj {
        self.0.push(format!("{}:{}", js(k), js(v)));
        self
    }
    fn n(mut self, k: &str, v: impl std::fmt::Display) -> Obj {
        self.0.push(format!("{}:{}", js(k), v));
        self
    }
    fn raw(mut self, k: &str, v: String) -> Obj {
        self.0.push(format!("{}:{}", js(k), v));
        self
    }
    fn opt_s(self, k: &str, v: Option<&str>) -> Obj {
        match v {
            Some(v) => self.s(k, v),
            None => self,
        }
    }
    fn done(self) -> String {
        format!("{{{}}}", self.0.join(","))
    }
}

fn arr(items: impl IntoIterator<Item = String>) -> String {
    format!("[{}]", items.into_iter().collect::<Vec<_>>().join(","))
}

/// Key spec from the facade: "io" | "uk:<32 hex>" | "sim:<64 hex mrsigner>:<prodid>:<isvsvn>:<1|0 debug>".
pub fn parse_key(spec: &str) -> Result<KeyMode> {
    let parts: Vec<&str> = spec.split(':').collect();
    let bad = || Error::new(Kind::Usage, format!("invalid key spec {:?}", spec));
    match parts[0] {
        "io" if parts.len() == 1 => Ok(KeyMode::IntegrityOnly),
        "uk" if parts.len() == 2 => Ok(KeyMode::UserKey(
            parse_hex(parts[1]).and_then(|v| v.try_into().ok()).ok_or_else(bad)?,
        )),
        "sim" if parts.len() == 5 => Ok(KeyMode::SimAuto(SimIdentity {
            mrsigner: parse_hex(parts[1]).and_then(|v| v.try_into().ok()).ok_or_else(bad)?,
            prod_id: parts[2].parse().map_err(|_| bad())?,
            isv_svn: parts[3].parse().map_err(|_| bad())?,
            debug: parts[4] == "1",
        })),
        _ => Err(bad()),
    }
}

fn write_key(spec: &str) -> Result<WriteKey> {
    match parse_key(spec)? {
        KeyMode::IntegrityOnly => Ok(WriteKey::IntegrityOnly),
        KeyMode::UserKey(k) => Ok(WriteKey::UserKey(k)),
        // Only for building simulation-mode run layers (tests, tooling); the facade's packImage
        // refuses it for images.
        KeyMode::SimAuto(id) => Ok(WriteKey::SimAuto(id)),
    }
}

fn arg<'a>(a: &'a [String], i: usize, what: &str) -> Result<&'a str> {
    a.get(i)
        .map(|s| s.as_str())
        .ok_or_else(|| Error::new(Kind::Usage, format!("missing argument {} ({})", i, what)))
}

fn num_arg(a: &[String], i: usize, what: &str) -> Result<u64> {
    let s = arg(a, i, what)?;
    s.parse().map_err(|_| {
        Error::new(
            Kind::Usage,
            format!("{} must be a non-negative integer, got {:?}", what, s),
        )
    })
}

/// An entry a listing left out: the directory, the entry's stored name, why.
fn skipped_json(dir: &str, name: &str, reason: &str) -> String {
    Obj::new().s("path", dir).s("name", name).s("reason", reason).done()
}

fn fd_arg(a: &[String]) -> Result<i32> {
    let n = num_arg(a, 0, "directory descriptor")?;
    i32::try_from(n).map_err(|_| Error::new(Kind::Usage, format!("{} is not a file descriptor", n)))
}

fn entry_json(path: &str, name: &str, ino: &Inode, target: Option<String>, layer: Option<&str>) -> String {
    let mut o = Obj::new()
        .s("path", path)
        .s("name", name)
        .s("type", type_name(ino.typ))
        .n("mode", ino.mode)
        .n("size", ino.size)
        .n("inode", ino.id)
        .n("nlink", ino.nlinks)
        .n("entries", if ino.typ == T_DIR { ino.blocks } else { 0 })
        .s("hostFile", &ino.host_file())
        .n("mtime", ino.mtime);
    if ino.has_mac() {
        o = o.s("mac", &mac_string(&ino.inode_mac));
    }
    o.opt_s("target", target.as_deref()).opt_s("layer", layer).done()
}

fn target(fs: &Sefs, ino: &Inode, gcm: &mut Gcm) -> Option<String> {
    (ino.typ == T_SYMLINK)
        .then(|| {
            fs.read_data(ino, gcm)
                .ok()
                .map(|d| String::from_utf8_lossy(&d).into_owned())
        })
        .flatten()
}

fn base_name(path: &str) -> String {
    path.rsplit('/').find(|c| !c.is_empty()).unwrap_or("/").to_string()
}

fn open_fs(a: &[String], gcm: &mut Gcm) -> Result<std::sync::Arc<Sefs>> {
    let root = PathBuf::from(arg(a, 0, "root")?);
    // Complete a pack interrupted between the directory swap and the .ROOT_MAC rename.
    if let Some(parent) = root.parent() {
        let _ = recover(&root, &parent.join(".ROOT_MAC"), false);
    }
    Sefs::open_shared(&root, &parse_key(arg(a, 1, "key")?)?, gcm)
}

fn open_union(a: &[String], gcm: &mut Gcm) -> Result<Union> {
    let image = Sefs::open_shared(
        Path::new(arg(a, 0, "image root")?),
        &parse_key(arg(a, 1, "image key")?)?,
        gcm,
    )
    .map_err(|e| e.at("image layer"))?;
    let run = Sefs::open_shared(
        Path::new(arg(a, 2, "run root")?),
        &parse_key(arg(a, 3, "run key")?)?,
        gcm,
    )
    .map_err(|e| e.at("run layer"))?;
    Ok(Union { image, run })
}

fn mentry_json(u: &Union, e: &MEntry, gcm: &mut Gcm) -> String {
    let fs = if e.layer == crate::union::Layer::Run {
        &u.run
    } else {
        &u.image
    };
    entry_json(&e.path, &e.name, &e.ino, target(fs, &e.ino, gcm), Some(e.layer.name()))
}

fn opt_mac(s: &str) -> Result<Option<[u8; 16]>> {
    if s.is_empty() {
        return Ok(None);
    }
    parse_dashed16(s).map(Some).ok_or_else(|| {
        Error::new(
            Kind::Usage,
            format!(
                "invalid MAC {:?}: expected 16 hex bytes joined by '-' (as in .ROOT_MAC)",
                s
            ),
        )
    })
}

fn host_files_json(h: &Option<(Vec<String>, Vec<String>)>) -> String {
    let list = |v: &[String]| format!("[{}]", v.iter().map(|n| js(n)).collect::<Vec<_>>().join(","));
    match h {
        Some((written, removed)) => format!("{{\"written\":{},\"removed\":{}}}", list(written), list(removed)),
        None => "null".into(),
    }
}

pub fn dispatch(op: &str, a: &[String], progress: &Progress) -> Result<Out> {
    let mut gcm = Gcm::new();
    let g = &mut gcm;
    Ok(match op {
        "pfHeader" => {
            let p = Path::new(arg(a, 0, "file")?);
            use std::os::unix::fs::FileExt;
            let f = crate::safe_file::open_regular(p, "protected file")?;
            let len = f.metadata().map_err(|e| Error::io(e, &p.display().to_string()))?.len();
            if len % pf::NODE as u64 != 0 {
                let mut head = vec![0u8; len.min(1024) as usize];
                let got = f.read_at(&mut head, 0).unwrap_or(0);
                if let Some(note) = crate::checkout::pointer_note(&head[..got]) {
                    return err(Kind::Missing, format!("{}: {}", p.display(), note));
                }
            }
            if len < 95 {
                return err(
                    Kind::NotPf,
                    format!("{}: {} bytes is too short for an SGX protected file", p.display(), len),
                );
            }
            let mut raw = [0u8; 95];
            f.read_exact_at(&mut raw, 0)
                .map_err(|e| Error::io(e, &p.display().to_string()))?;
            Out::Json(
                Obj::new()
                    .s("magic", &String::from_utf8_lossy(&raw[0..8]))
                    .n("major", raw[8])
                    .n("minor", raw[9])
                    .s("keyId", &hex(&raw[10..42]))
                    .s("cpuSvn", &hex(&raw[42..58]))
                    .n("isvSvn", u16::from_le_bytes([raw[58], raw[59]]))
                    .n("useUserKdkKey", raw[60])
                    .s("mac", &mac_string(&raw[77..93]))
                    .n("updateFlag", raw[93])
                    .n("integrityOnly", raw[94])
                    .n("hostBytes", len)
                    .done(),
            )
        }
        "pfInfo" | "pfVerify" | "pfRead" => {
            let p = Path::new(arg(a, 0, "file")?);
            let key = parse_key(arg(a, 1, "key")?)?;
            let f = pf::open_path(p, &key, g)?;
            let total = pf::data_nodes(f.size);
            progress.set_total(total);
            let data = f
                .read_all(g, &mut |_| progress.add(1, 4096))
                .map_err(|e| e.at(&p.display().to_string()))?;
            if op == "pfRead" {
                Out::Bytes(data)
            } else {
                Out::Json(
                    Obj::new()
                        .s("name", &f.name)
                        .s("mode", f.header.mode_name())
                        .s("mac", &mac_string(&f.mac()))
                        .n("size", f.size)
                        .n("nodes", f.host_nodes())
                        .n("dataNodes", total)
                        .n("extraNodes", f.extra_nodes())
                        .raw("recovered", f.recovered.to_string())
                        .s("cpuSvn", &hex(&f.header.cpu_svn))
                        .n("isvSvn", f.header.isv_svn)
                        .done(),
                )
            }
        }
        "info" => {
            let fs = open_fs(a, g)?;
            Out::Json(
                Obj::new()
                    .s("rootMac", &mac_string(&fs.root_mac))
                    .s("era", fs.layout.era)
                    .raw("garbagePad", fs.garbage_pad.to_string())
                    .n("groups", fs.groups)
                    .n("blocks", fs.blocks)
                    .n("unusedBlocks", fs.unused)
                    .s("mode", fs.mode.describe())
                    .done(),
            )
        }
        "stat" => {
            let fs = open_fs(a, g)?;
            let p = crate::union::normalize(arg(a, 2, "path")?);
            let ino = fs.lookup(&p, g)?;
            let t = target(&fs, &ino, g);
            Out::Json(entry_json(&p, &base_name(&p), &ino, t, None))
        }
        "list" => {
            let fs = open_fs(a, g)?;
            let p = crate::union::normalize(arg(a, 2, "path")?);
            let dir = fs.lookup(&p, g)?;
            if dir.typ != T_DIR {
                return err(Kind::Usage, format!("{}: not a directory", p));
            }
            let (ents, bad) = fs.list_dir_all(&dir, g).map_err(|e| e.at(&p))?;
            let mut items = Vec::new();
            let mut skipped: Vec<String> = bad.iter().map(|b| skipped_json(&p, &b.name, &b.reason)).collect();
            for e in ents {
                let cp = if p == "/" {
                    format!("/{}", e.name)
                } else {
                    format!("{}/{}", p, e.name)
                };
                match fs.inode(e.id) {
                    Ok(ino) => {
                        let t = target(&fs, &ino, g);
                        items.push(entry_json(&cp, &e.name, &ino, t, None));
                    }
                    Err(er) => skipped.push(skipped_json(&p, &e.name, &er.msg)),
                }
            }
            Out::Json(
                Obj::new()
                    .raw("entries", arr(items))
                    .raw("skipped", arr(skipped))
                    .done(),
            )
        }
        "walk" => {
            let fs = open_fs(a, g)?;
            let (all, problems) = fs.walk(g)?;
            let mut items = Vec::with_capacity(all.len());
            for (p, ino) in &all {
                let t = target(&fs, ino, g);
                items.push(entry_json(p, &base_name(p), ino, t, None));
            }
            let probs = problems.iter().map(|(p, e)| {
                Obj::new()
                    .s("path", p)
                    .s("kind", crate::verify::problem_kind(e.kind))
                    .s("message", &e.msg)
                    .done()
            });
            Out::Json(Obj::new().raw("entries", arr(items)).raw("problems", arr(probs)).done())
        }
        "read" | "readlink" => {
            let fs = open_fs(a, g)?;
            let p = crate::union::normalize(arg(a, 2, "path")?);
            let ino = fs.lookup(&p, g)?;
            if op == "readlink" && ino.typ != T_SYMLINK {
                return err(Kind::Usage, format!("{}: not a symlink", p));
            }
            Out::Bytes(fs.read_data(&ino, g).map_err(|e| e.at(&p))?)
        }
        "readRange" => {
            let fs = open_fs(a, g)?;
            let p = crate::union::normalize(arg(a, 2, "path")?);
            let (off, len) = (num_arg(a, 3, "offset")?, num_arg(a, 4, "length")?);
            let ino = fs.lookup(&p, g)?;
            Out::Bytes(fs.read_data_range(&ino, off, len, g).map_err(|e| e.at(&p))?)
        }
        "verify" => {
            let root = PathBuf::from(arg(a, 0, "root")?);
            let key = parse_key(arg(a, 1, "key")?)?;
            let expected = opt_mac(a.get(2).map(|s| s.as_str()).unwrap_or(""))?;
            let r = verify(&root, &key, expected, progress);
            let probs = r.problems.iter().map(|p| {
                let mut o = Obj::new()
                    .s("path", &p.path)
                    .opt_s("hostFile", p.host_file.as_deref())
                    .s("kind", p.kind)
                    .s("message", &p.message);
                if let Some(n) = p.node {
                    o = o.n("node", n);
                }
                o.done()
            });
            let mut o = Obj::new()
                .raw("ok", r.ok.to_string())
                .s("rootMac", &r.root_mac.map(|m| mac_string(&m)).unwrap_or_default());
            if let Some(e) = r.expected {
                o = o.s("expectedRootMac", &mac_string(&e));
            }
            Out::Json(
                o.n("files", r.files)
                    .n("bytes", r.bytes)
                    .raw("problems", arr(probs))
                    .opt_s("note", r.note.as_deref())
                    .opt_s("era", r.era.as_deref())
                    .s("mode", r.mode)
                    .done(),
            )
        }
        "pack" => {
            let o = PackOpts {
                src: PathBuf::from(arg(a, 0, "src")?),
                out_root: PathBuf::from(arg(a, 1, "outRoot")?),
                mac_file: PathBuf::from(arg(a, 2, "macFile")?),
                key: write_key(arg(a, 3, "key")?)?,
                incremental: a.get(4).map(|s| s == "1").unwrap_or(false),
                fsync: a.get(5).map(|s| s == "1").unwrap_or(false),
                crash_after: a.get(6).and_then(|s| s.parse().ok()),
            };
            // Arg 7: "1" when a `changed` hint is given ("2": and the caller vouches no file of
            // outRoot changed since, see pack_vouched); arg 8: a previous image to seed outRoot
            // from ("" for none); args 9..: the hint paths (relative to src).
            let hint = a.get(7).map(String::as_str).unwrap_or("0");
            let changed = (hint == "1" || hint == "2").then(|| a.get(9..).unwrap_or_default().to_vec());
            if let Some(prev) = a.get(8).filter(|s| !s.is_empty()) {
                seed_from(Path::new(prev), &o.out_root)?;
            }
            let r = pack_vouched(&o, changed.as_deref(), hint == "2", progress)?;
            Out::Json(
                Obj::new()
                    .s("rootMac", &mac_string(&r.root_mac))
                    .n("filesPacked", r.files_packed)
                    .n("filesReused", r.files_reused)
                    .n("bytes", r.bytes)
                    .n("inodes", r.inodes)
                    .n("ms", format!("{:.3}", r.ms))
                    .raw("hostFiles", host_files_json(&r.host_files))
                    .done(),
            )
        }
        "packMoved" => {
            crate::pack::moved(Path::new(arg(a, 0, "from")?), Path::new(arg(a, 1, "to")?));
            Out::Json("null".into())
        }
        "guardOpen" => {
            let max = arg(a, 0, "max watches")?
                .parse()
                .map_err(|_| Error::new(Kind::Usage, "guardOpen: the most watches must be a number"))?;
            Out::Json(crate::guard::open(max)?.to_string())
        }
        "guardClose" => {
            crate::guard::close_guard(arg(a, 0, "guard")?)?;
            Out::Json("null".into())
        }
        "guardTree" => Out::Bytes(crate::guard::tree(
            arg(a, 0, "guard")?,
            arg(a, 1, "tag")?,
            Path::new(arg(a, 2, "root")?),
        )?),
        "guardPaths" => Out::Bytes(crate::guard::paths(
            arg(a, 0, "guard")?,
            arg(a, 1, "tag")?,
            Path::new(arg(a, 2, "root")?),
            &a[3..],
        )?),
        "guardLinks" => Out::Bytes(crate::guard::links(arg(a, 0, "guard")?)?),
        "guardFs" => Out::Json(js(&crate::guard::remote_fs(Path::new(arg(a, 0, "path")?))?)),
        "guardLease" => Out::Json(js(&crate::guard::lease(arg(a, 0, "guard")?, &a[1..])?)),
        "guardRelease" => {
            crate::guard::release(arg(a, 0, "guard")?, &a[1..])?;
            Out::Json("null".into())
        }
        "forkWatchOpen" => Out::Json(crate::fork_watch::open(arg(a, 0, "socket")?)?.to_string()),
        "forkWatchTake" => Out::Json(crate::fork_watch::take(arg(a, 0, "watch")?)?),
        "guardDrain" => Out::Bytes(crate::guard::drain(arg(a, 0, "guard")?)?),
        "statTree" => Out::Bytes(crate::stat_tree::stat_tree(Path::new(arg(a, 0, "root")?))?),
        "cloexec" => {
            let fd = arg(a, 0, "fd")?
                .parse()
                .map_err(|_| Error::new(Kind::Usage, "cloexec: bad descriptor"))?;
            crate::go_pipe::cloexec(fd)?;
            Out::Json("null".into())
        }
        "goPipe" => {
            let (r, w) = crate::go_pipe::go_pipe()?;
            Out::Json(format!("[{r},{w}]"))
        }
        "openForWriting" => {
            use crate::writers::{open_for_writing, Writing};
            let marks: Vec<&str> = a
                .iter()
                .map(|p| match open_for_writing(Path::new(p)) {
                    Writing::Yes => "\"y\"",
                    Writing::No => "\"n\"",
                    Writing::Unknown => "\"?\"",
                })
                .collect();
            Out::Json(format!("[{}]", marks.join(",")))
        }
        "recover" => {
            let changed = recover(Path::new(arg(a, 0, "outRoot")?), Path::new(arg(a, 1, "macFile")?), true)?;
            Out::Json(changed.to_string())
        }
        "uInfo" => {
            let u = open_union(a, g)?;
            let (binding, found) = match u.binding(g) {
                Binding::Ok => ("ok", String::new()),
                Binding::Absent => ("absent", String::new()),
                Binding::Mismatch(d) => ("mismatch", d.chunks(16).map(mac_string).collect::<Vec<_>>().join(",")),
            };
            Out::Json(
                Obj::new()
                    .s("binding", binding)
                    .s("boundTo", &found)
                    .s("imageRootMac", &mac_string(&u.image_mac()))
                    .s("runRootMac", &mac_string(&u.run.root_mac))
                    .done(),
            )
        }
        "uStat" => {
            let u = open_union(a, g)?;
            let e = u.stat(arg(a, 4, "path")?, g)?;
            Out::Json(mentry_json(&u, &e, g))
        }
        "uList" => {
            let u = open_union(a, g)?;
            let p = crate::union::normalize(arg(a, 4, "path")?);
            let (es, bad) = u.list_all(&p, g)?;
            let items = arr(es.iter().map(|e| mentry_json(&u, e, g)).collect::<Vec<_>>());
            Out::Json(
                Obj::new()
                    .raw("entries", items)
                    .raw("skipped", arr(bad.iter().map(|(n, r)| skipped_json(&p, n, r))))
                    .done(),
            )
        }
        "uWalk" => {
            let u = open_union(a, g)?;
            let (es, bad) = u.walk_all(g)?;
            let items = arr(es.iter().map(|e| mentry_json(&u, e, g)).collect::<Vec<_>>());
            Out::Json(
                Obj::new()
                    .raw("entries", items)
                    .raw("skipped", arr(bad.iter().map(|(p, n, r)| skipped_json(p, n, r))))
                    .done(),
            )
        }
        "uRead" => {
            let u = open_union(a, g)?;
            Out::Bytes(u.read(arg(a, 4, "path")?, g)?)
        }
        "uReadRange" => {
            let u = open_union(a, g)?;
            let (off, len) = (num_arg(a, 5, "offset")?, num_arg(a, 6, "length")?);
            Out::Bytes(u.read_range(arg(a, 4, "path")?, off, len, g)?)
        }
        // Extract's writes below its destination's directory descriptor (beneath.rs): arg 0 the
        // descriptor, arg 1 the path relative to it.
        "bMkdir" => {
            beneath::mkdir(fd_arg(a)?, arg(a, 1, "path")?)?;
            Out::Json("null".into())
        }
        // Arg 1 the mode of the directories made, then their paths (parents first).
        "bMkdirs" => {
            let mode = num_arg(a, 1, "mode")? as u32;
            let errors = beneath::mkdirs(fd_arg(a)?, a.get(2..).unwrap_or_default(), mode);
            let items: Vec<String> = errors.iter().map(|(i, m)| format!("[{},{}]", i, js(m))).collect();
            Out::Json(format!("[{}]", items.join(",")))
        }
        "bCreate" => Out::Json(
            beneath::create(fd_arg(a)?, arg(a, 1, "path")?, num_arg(a, 2, "mode")? as u32 & 0o777)?.to_string(),
        ),
        "bSymlink" => {
            beneath::symlink(fd_arg(a)?, arg(a, 1, "path")?, arg(a, 2, "target")?)?;
            Out::Json("null".into())
        }
        "bUnlink" => {
            beneath::unlink(fd_arg(a)?, arg(a, 1, "path")?)?;
            Out::Json("null".into())
        }
        "bChmodDir" => {
            beneath::chmod_dir(fd_arg(a)?, arg(a, 1, "path")?, num_arg(a, 2, "mode")? as u32)?;
            Out::Json("null".into())
        }
        "writePf" => {
            // Test/bench helper: write one PF (name = basename of the target path).
            let p = Path::new(arg(a, 0, "file")?);
            let data = std::fs::read(arg(a, 2, "plaintext file")?).map_err(|e| Error::io(e, "plaintext"))?;
            let name = p
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let (bytes, mac) = pf::write_pf(&name, &data, &write_key(arg(a, 1, "key")?)?, g)?;
            std::fs::write(p, bytes).map_err(|e| Error::io(e, &p.display().to_string()))?;
            Out::Json(js(&mac_string(&mac)))
        }
        // The run layer's view (src/core/backend/host/fs-view.ts): reads below its descriptor.
        "bOpenDir" => Out::Json(beneath::open_dir_read(fd_arg(a)?, arg(a, 1, "path")?)?.to_string()),
        "bOpenRead" => Out::Json(beneath::open_read(fd_arg(a)?, arg(a, 1, "path")?)?.to_string()),
        "bChmodFile" => {
            beneath::chmod_file(fd_arg(a)?, arg(a, 1, "path")?, num_arg(a, 2, "mode")? as u32)?;
            Out::Json("null".into())
        }
        "bDirAttrs" => {
            // fd, path ("" for the directory itself), mode, uid and gid ("" to keep), atime s, ns, mtime s, ns.
            let owner = match (arg(a, 3, "uid")?, arg(a, 4, "gid")?) {
                ("", _) | (_, "") => None,
                _ => Some((num_arg(a, 3, "uid")? as u32, num_arg(a, 4, "gid")? as u32)),
            };
            let t = |i: usize, what: &str| num_arg(a, i, what).map(|n| n as i64);
            let times = [
                beneath::Timespec {
                    sec: t(5, "atime")?,
                    nsec: t(6, "atime ns")?,
                },
                beneath::Timespec {
                    sec: t(7, "mtime")?,
                    nsec: t(8, "mtime ns")?,
                },
            ];
            beneath::set_dir_attrs(
                fd_arg(a)?,
                arg(a, 1, "path")?,
                owner,
                num_arg(a, 2, "mode")? as u32,
                times,
            )?;
            Out::Json("null".into())
        }
        "copyFiles" => Out::Json(crate::tree_copy::copy_files(a)?),
        "sniffElf" => Out::Json(crate::tree_copy::sniff_elf(a)?),
        "statFiles" => Out::Json(crate::tree_copy::stat_files(a)?),
        "scanFiles" => Out::Json(crate::tree_copy::scan_files(a)?),
        "bomStateStat" => Out::Json(crate::bom_state::state_stat(a)?),
        "bomStateCheckFile" => Out::Json(crate::bom_state_file::check_file(a)?),
        "bomStateRewrite" => Out::Json(crate::bom_state_file::rewrite(a)?),
        "bomStateFind" => Out::Json(crate::bom_state_file::find(a)?),
        "copyHashFiles" => Out::Json(crate::tree_copy::copy_hash_files(a)?),
        "sealBench" => {
            // Bench helper: AES-128-GCM-seal `mib` MiB in 4 KiB nodes, a different key per node
            // (as a PF writer does), in one call; returns elapsed milliseconds.
            let mib: usize = arg(a, 0, "MiB")?
                .parse()
                .map_err(|_| Error::new(Kind::Usage, "MiB must be a number"))?;
            let mut buf = vec![0x5au8; mib << 20];
            let t = std::time::Instant::now();
            for (i, node) in buf.chunks_mut(pf::NODE).enumerate() {
                let mut key = [0u8; 16];
                key[..8].copy_from_slice(&(i as u64).to_le_bytes());
                let tag = g.encrypt(&key, node);
                node[0] ^= tag[0];
            }
            Out::Json(format!("{:.3}", t.elapsed().as_secs_f64() * 1000.0))
        }
        _ => return err(Kind::Usage, format!("unknown native operation {:?}", op)),
    })
}
