//! Merged view of Occlum's UnionFS: the run (container) layer over the image layer
//! (spec §2.6): `.ufs.wh.<name>` whiteouts, `.ufs.opq.<name>` opaque directories, and the
//! `/.ufs.mac` file binding a run layer to the root MAC of its image.

use crate::crypto::{Gcm, Tag};
use crate::error::{err, Error, Kind, Result};
use crate::sefs::{Dirent, Inode, Sefs, T_DIR};

pub const WH: &str = ".ufs.wh.";
pub const OPQ: &str = ".ufs.opq.";
pub const MAC_FILE: &str = ".ufs.mac";

pub fn reserved(name: &str) -> bool {
    name.starts_with(WH) || name.starts_with(OPQ) || name == MAC_FILE
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    Image,
    Run,
    /// An image entry hidden by a whiteout in the run layer.
    Deleted,
}

impl Layer {
    pub fn name(self) -> &'static str {
        match self {
            Layer::Image => "image",
            Layer::Run => "run",
            Layer::Deleted => "deleted",
        }
    }
}

pub enum Binding {
    Ok,
    /// `.ufs.mac` names another image.
    Mismatch(Vec<u8>),
    /// No `.ufs.mac` (a run layer never mounted over this image).
    Absent,
}

pub struct Union {
    pub image: std::sync::Arc<Sefs>,
    pub run: std::sync::Arc<Sefs>,
}

pub struct MEntry {
    pub path: String,
    pub name: String,
    pub layer: Layer,
    pub ino: Inode,
}

/// An entry left out of a merged listing: (name, reason).
pub type LeftOut = (String, String);
/// An entry left out of a merged walk: (directory, name, reason).
pub type LeftOutAt = (String, String, String);

/// Where a merged path lives in each layer.
struct Resolved {
    upper: Option<Inode>,
    lower: Option<Inode>,
    whiteout: bool,
}

impl Union {
    pub fn binding(&self, gcm: &mut Gcm) -> Binding {
        let root = match self.run.root() {
            Ok(r) => r,
            Err(_) => return Binding::Absent,
        };
        let ents = self.run.list_dir(&root, gcm).unwrap_or_default();
        match ents.iter().find(|e| e.name == MAC_FILE) {
            None => Binding::Absent,
            Some(e) => match self.run.inode(e.id).and_then(|i| self.run.read_data(&i, gcm)) {
                Ok(d) if d.len() >= 16 && d[..16] == self.image.root_mac => Binding::Ok,
                Ok(d) => Binding::Mismatch(d),
                Err(_) => Binding::Mismatch(vec![]),
            },
        }
    }

    pub fn image_mac(&self) -> Tag {
        self.image.root_mac
    }

    fn children(fs: &Sefs, dir: &Option<Inode>, gcm: &mut Gcm) -> Result<Vec<Dirent>> {
        match dir {
            Some(d) if d.typ == T_DIR => fs.list_dir(d, gcm),
            _ => Ok(vec![]),
        }
    }

    fn resolve(&self, path: &str, gcm: &mut Gcm) -> Result<Resolved> {
        let mut r = Resolved {
            upper: Some(self.run.root()?),
            lower: Some(self.image.root()?),
            whiteout: false,
        };
        for comp in path.split('/').filter(|c| !c.is_empty() && *c != ".") {
            if comp == ".." {
                return err(Kind::Usage, format!("{}: '..' is not allowed in image paths", path));
            }
            let up = Self::children(&self.run, &r.upper, gcm)?;
            let has = |n: String| up.iter().any(|e| e.name == n);
            let wh = has(format!("{}{}", WH, comp));
            let opq = has(format!("{}{}", OPQ, comp));
            let upper = match up.iter().find(|e| e.name == comp && !reserved(comp)) {
                Some(e) => Some(self.run.inode(e.id)?),
                None => None,
            };
            let mut lower = if r.lower.is_some() {
                Self::children(&self.image, &r.lower, gcm)?
                    .into_iter()
                    .find(|e| e.name == comp)
                    .map(|e| self.image.inode(e.id))
                    .transpose()?
            } else {
                None
            };
            // An upper non-directory hides the lower entry; an opaque upper dir stops merging.
            if opq
                || upper.as_ref().is_some_and(|u| u.typ != T_DIR)
                || (upper.is_some() && lower.as_ref().is_some_and(|l| l.typ != T_DIR))
            {
                lower = None;
            }
            let whiteout = wh && upper.is_none() && lower.is_some();
            if wh {
                lower = None;
            }
            if upper.is_none() && lower.is_none() && !whiteout {
                return err(
                    Kind::Missing,
                    format!("{}: no such file or directory in the merged view", path),
                );
            }
            r = Resolved { upper, lower, whiteout };
        }
        Ok(r)
    }

    pub fn stat(&self, path: &str, gcm: &mut Gcm) -> Result<MEntry> {
        let r = self.resolve(path, gcm)?;
        let name = path.rsplit('/').find(|c| !c.is_empty()).unwrap_or("/").to_string();
        let p = normalize(path);
        if let Some(u) = r.upper {
            Ok(MEntry {
                path: p,
                name,
                layer: Layer::Run,
                ino: u,
            })
        } else if let Some(l) = r.lower {
            Ok(MEntry {
                path: p,
                name,
                layer: Layer::Image,
                ino: l,
            })
        } else if r.whiteout {
            err(Kind::Missing, format!("{}: deleted in the run layer (whiteout)", path))
        } else {
            err(
                Kind::Missing,
                format!("{}: no such file or directory in the merged view", path),
            )
        }
    }

    pub fn list(&self, path: &str, gcm: &mut Gcm) -> Result<Vec<MEntry>> {
        Ok(self.list_all(path, gcm)?.0)
    }

    /// The merged entries of a directory and the (name, reason) of entries of either layer left
    /// out: illegal names, inode records that cannot be read.
    pub fn list_all(&self, path: &str, gcm: &mut Gcm) -> Result<(Vec<MEntry>, Vec<LeftOut>)> {
        let r = self.resolve(path, gcm)?;
        let base = normalize(path);
        let join = |n: &str| {
            if base == "/" {
                format!("/{}", n)
            } else {
                format!("{}/{}", base, n)
            }
        };
        let mut skipped = Vec::new();
        let mut layer = |fs: &Sefs, dir: &Option<Inode>, what: &str, gcm: &mut Gcm| -> Result<Vec<Dirent>> {
            match dir {
                Some(d) if d.typ == T_DIR => {
                    let (ents, bad) = fs.list_dir_all(d, gcm)?;
                    skipped.extend(bad.into_iter().map(|b| (b.name, format!("{}: {}", what, b.reason))));
                    Ok(ents)
                }
                _ => Ok(vec![]),
            }
        };
        let up = layer(&self.run, &r.upper, "run layer", gcm)?;
        let low = layer(&self.image, &r.lower, "image layer", gcm)?;
        let mut out = Vec::new();
        for e in up.iter().filter(|e| !reserved(&e.name)) {
            match self.run.inode(e.id) {
                Ok(ino) => out.push(MEntry {
                    path: join(&e.name),
                    name: e.name.clone(),
                    layer: Layer::Run,
                    ino,
                }),
                Err(er) => skipped.push((e.name.clone(), format!("run layer: {}", er.msg))),
            }
        }
        for e in &low {
            if up.iter().any(|u| u.name == e.name) {
                continue;
            }
            let wh = up.iter().any(|u| u.name == format!("{}{}", WH, e.name));
            match self.image.inode(e.id) {
                Ok(ino) => out.push(MEntry {
                    path: join(&e.name),
                    name: e.name.clone(),
                    layer: if wh { Layer::Deleted } else { Layer::Image },
                    ino,
                }),
                Err(er) => skipped.push((e.name.clone(), format!("image layer: {}", er.msg))),
            }
        }
        out.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        Ok((out, skipped))
    }

    pub fn read(&self, path: &str, gcm: &mut Gcm) -> Result<Vec<u8>> {
        let e = self.stat(path, gcm)?;
        let fs = if e.layer == Layer::Run { &self.run } else { &self.image };
        fs.read_data(&e.ino, gcm).map_err(|er: Error| er.at(path))
    }

    /// Bytes [off, off + len) of a merged file (see Sefs::read_data_range).
    pub fn read_range(&self, path: &str, off: u64, len: u64, gcm: &mut Gcm) -> Result<Vec<u8>> {
        let e = self.stat(path, gcm)?;
        let fs = if e.layer == Layer::Run { &self.run } else { &self.image };
        fs.read_data_range(&e.ino, off, len, gcm)
            .map_err(|er: Error| er.at(path))
    }

    /// Whole merged tree, pre-order; deleted image entries included with Layer::Deleted.
    pub fn walk(&self, gcm: &mut Gcm) -> Result<Vec<MEntry>> {
        Ok(self.walk_all(gcm)?.0)
    }

    /// walk, and the (directory, name, reason) of every entry left out (see list_all).
    pub fn walk_all(&self, gcm: &mut Gcm) -> Result<(Vec<MEntry>, Vec<LeftOutAt>)> {
        let mut out = Vec::new();
        let mut skipped = Vec::new();
        let mut stack = vec![("/".to_string(), 0usize)];
        // A directory inode of either layer is descended once: hostile layers may contain cycles.
        let mut seen = std::collections::HashSet::new();
        while let Some((p, depth)) = stack.pop() {
            if depth > 512 {
                return err(Kind::Format, format!("{}: nesting deeper than 512 levels", p));
            }
            let (ents, bad) = self.list_all(&p, gcm)?;
            skipped.extend(bad.into_iter().map(|(n, r)| (p.clone(), n, r)));
            let mut dirs = Vec::new();
            for e in ents {
                if e.ino.typ == T_DIR && e.layer != Layer::Deleted {
                    if !seen.insert((e.layer, e.ino.id)) {
                        return err(
                            Kind::Format,
                            format!("{}: directory inode {} reached twice (cycle)", e.path, e.ino.id),
                        );
                    }
                    dirs.push(e.path.clone());
                }
                out.push(e);
            }
            for d in dirs.into_iter().rev() {
                stack.push((d, depth + 1));
            }
        }
        Ok((out, skipped))
    }
}

pub fn normalize(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
    format!("/{}", parts.join("/"))
}
