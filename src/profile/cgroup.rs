//! A sample's cgroup (v2) and what its path says about the workload that ran: a container
//! (docker, containerd, cri-o, podman), a systemd unit, a Kubernetes pod.
//!
//! Paths come from a directory tree that whoever can create cgroups controls: classification
//! is pure string matching with length caps, never panics, and keeps names as they are
//! (outputs shown on a terminal make them printable).

/// Longest path classified; a longer path (the kernel allows 4 KiB per name, no total limit) is
/// classified by its first [`MAX_CLASSIFIED_LEN`] bytes.
pub const MAX_CLASSIFIED_LEN: usize = 4096;

/// Characters of a container id shown where a short name is wanted (`docker:0123456789ab`), as
/// `docker ps` shows them.
pub const SHORT_ID_LEN: usize = 12;

/// Length of a full container id of docker, containerd, cri-o and podman (64 hex digits).
const FULL_ID_LEN: usize = 64;

/// Length of a Kubernetes pod uid (a UUID: 32 hex digits and four dashes).
const POD_UID_LEN: usize = 36;

/// The cgroup a sample's task was in.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cgroup {
    /// The cgroup v2 id (the inode number of its directory in the cgroup2 mount); 0 when not
    /// known (profiles read from pprof labels).
    pub id: u64,
    /// The path below the cgroup2 mount (`/system.slice/nginx.service`); empty when it could
    /// not be resolved (a cgroup gone before prof saw it).
    pub path: String,
}

impl Cgroup {
    /// The path, or `cgroup:<id>` when it is not known.
    pub fn name(&self) -> String {
        if self.path.is_empty() {
            format!("cgroup:{}", self.id)
        } else {
            self.path.clone()
        }
    }

    /// What the path says about the workload.
    pub fn workload(&self) -> Workload {
        classify(&self.path)
    }

    /// Whether this is the cgroup named `path` (a path, or `cgroup:<id>`) or one below it
    /// (`/a/b` is within `/a` and `/a/`, not within `/a/bc` nor `/ab`; everything is within `/`).
    pub fn is_within(&self, path: &str) -> bool {
        let name = self.name();
        let prefix = path.trim_end_matches('/');
        name.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }

    /// The paths of the cgroups this one is within, outermost first, itself last, the root
    /// left out: `/a`, `/a/b` for `/a/b`; just the name when the path is not known.
    pub fn lineage(&self) -> Vec<String> {
        let name = self.name();
        if !name.starts_with('/') {
            return vec![name];
        }
        let mut out: Vec<String> =
            name.match_indices('/').filter(|&(i, _)| i > 0).map(|(i, _)| name[..i].to_string()).collect();
        if name.len() > 1 {
            out.push(name);
        }
        out
    }
}

/// The container runtime a cgroup path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Runtime {
    /// Docker (`docker-<id>.scope`, `/docker/<id>`).
    Docker,
    /// containerd's CRI plugin (`cri-containerd-<id>.scope`).
    Containerd,
    /// cri-o (`crio-<id>.scope`).
    Crio,
    /// podman (`libpod-<id>.scope`, `/libpod_parent/libpod-<id>`).
    Podman,
    /// A container id under a Kubernetes pod with the cgroupfs driver (`/kubepods/…/pod<uid>/<id>`):
    /// the path does not say which runtime.
    Unknown,
}

impl Runtime {
    /// Lowercase name (`docker`, `containerd`, `cri-o`, `podman`, `container`).
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Containerd => "containerd",
            Runtime::Crio => "cri-o",
            Runtime::Podman => "podman",
            Runtime::Unknown => "container",
        }
    }
}

/// A container named by a cgroup path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Container {
    /// Which runtime's naming the path follows.
    pub runtime: Runtime,
    /// The container id (lowercase hex).
    pub id: String,
}

impl Container {
    /// `<runtime>:<first 12 digits of the id>`, the name tables and folded roots show.
    pub fn short_name(&self) -> String {
        format!("{}:{}", self.runtime.name(), &self.id[..self.id.len().min(SHORT_ID_LEN)])
    }
}

/// What a cgroup path says about the workload; each part None when the path does not say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Workload {
    /// The container.
    pub container: Option<Container>,
    /// The innermost systemd unit (`nginx.service`, `session-2.scope`, `docker-<id>.scope`).
    pub systemd_unit: Option<String>,
    /// The Kubernetes pod uid, with dashes (`0f1e…-…`).
    pub pod_uid: Option<String>,
}

/// Classifies a cgroup v2 path (below the mount, `/`-separated) by the naming conventions of
/// systemd, the container runtimes and the kubelet: the innermost match of each kind wins.
pub fn classify(path: &str) -> Workload {
    let mut end = path.len().min(MAX_CLASSIFIED_LEN);
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    let mut w = Workload::default();
    let mut parent = "";
    for part in path[..end].split('/').filter(|p| !p.is_empty()) {
        if let Some(uid) = pod_uid(part) {
            w.pod_uid = Some(uid);
        }
        if let Some(c) = container(part, parent, w.pod_uid.is_some()) {
            w.container = Some(c);
        }
        if part.len() > ".scope".len() && (part.ends_with(".service") || part.ends_with(".scope")) {
            w.systemd_unit = Some(part.to_string());
        }
        parent = part;
    }
    w
}

/// The container a path component names, given the component above it and whether a pod was
/// named above it.
fn container(part: &str, parent: &str, in_pod: bool) -> Option<Container> {
    const SCOPES: [(&str, Runtime); 4] = [
        ("docker-", Runtime::Docker),
        ("cri-containerd-", Runtime::Containerd),
        ("crio-", Runtime::Crio),
        ("libpod-", Runtime::Podman),
    ];
    let id_of = |s: &str| (s.len() == FULL_ID_LEN && is_hex(s)).then(|| s.to_string());
    if let Some(stem) = part.strip_suffix(".scope") {
        return SCOPES
            .iter()
            .find_map(|&(prefix, runtime)| Some(Container { runtime, id: id_of(stem.strip_prefix(prefix)?)? }));
    }
    // cgroupfs drivers: `/docker/<id>`, `/libpod_parent/libpod-<id>`, `/kubepods/…/pod<uid>/<id>`.
    if let Some(id) = part.strip_prefix("libpod-").and_then(id_of) {
        return Some(Container { runtime: Runtime::Podman, id });
    }
    let id = id_of(part)?;
    let runtime = match parent {
        "docker" => Runtime::Docker,
        _ if in_pod => Runtime::Unknown,
        _ => return None,
    };
    Some(Container { runtime, id })
}

/// The pod uid a path component names: `kubepods-<qos>-pod<uid with _>.slice` (systemd driver)
/// or `pod<uid>` (cgroupfs driver).
fn pod_uid(part: &str) -> Option<String> {
    let raw = if part.starts_with("kubepods") {
        let stem = part.strip_suffix(".slice")?;
        &stem[stem.rfind("-pod")? + "-pod".len()..]
    } else {
        part.strip_prefix("pod")?
    };
    let uid = raw.replace('_', "-");
    let dashes = [8, 13, 18, 23];
    let well_formed = uid.len() == POD_UID_LEN
        && uid.char_indices().all(|(i, c)| if dashes.contains(&i) { c == '-' } else { c.is_ascii_hexdigit() });
    well_formed.then_some(uid)
}

/// True for a non-empty string of lowercase hex digits.
fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// How `--by cgroup|container|unit` groups samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CgroupGrouping {
    /// By cgroup path.
    Cgroup,
    /// By container (`docker:0123456789ab`).
    Container,
    /// By systemd unit.
    Unit,
}

impl CgroupGrouping {
    /// The group of a sample in cgroup `cgroup` (None: not known): its path, container or
    /// unit, or `[no cgroup]`, `[no container]`, `[no unit]`.
    pub fn label(self, cgroup: Option<&Cgroup>) -> String {
        match self {
            CgroupGrouping::Cgroup => cgroup.map_or_else(|| "[no cgroup]".to_string(), Cgroup::name),
            CgroupGrouping::Container => cgroup
                .and_then(|c| c.workload().container)
                .map_or_else(|| "[no container]".to_string(), |c| c.short_name()),
            CgroupGrouping::Unit => {
                cgroup.and_then(|c| c.workload().systemd_unit).unwrap_or_else(|| "[no unit]".to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{classify, Cgroup, CgroupGrouping, Container, Runtime, Workload};

    const ID: &str = "3f1c0b4a9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b";
    const UID: &str = "7e2b9c4d-1a3f-4b5e-8c6d-0f1e2d3c4b5a";

    fn container(runtime: Runtime) -> Option<Container> {
        Some(Container { runtime, id: ID.to_string() })
    }

    /// Docker with the systemd driver and with the cgroupfs driver.
    #[test]
    fn cgroup_classifies_docker() {
        let w = classify(&format!("/system.slice/docker-{ID}.scope"));
        assert_eq!(w.container, container(Runtime::Docker));
        assert_eq!(w.systemd_unit, Some(format!("docker-{ID}.scope")));
        assert_eq!(w.pod_uid, None);
        assert_eq!(classify(&format!("/docker/{ID}")).container, container(Runtime::Docker));
        // The container sees its own cgroup namespace's root inside: nested paths keep it.
        assert_eq!(
            classify(&format!("/system.slice/docker-{ID}.scope/init.scope")).container,
            container(Runtime::Docker)
        );
    }

    /// Kubernetes pods: systemd driver with containerd and cri-o, cgroupfs driver.
    #[test]
    fn cgroup_classifies_kubernetes_pods() {
        let under = UID.replace('-', "_");
        let w = classify(&format!(
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{under}.slice/cri-containerd-{ID}.scope"
        ));
        assert_eq!(w.container, container(Runtime::Containerd));
        assert_eq!(w.pod_uid.as_deref(), Some(UID));
        let w = classify(&format!("/kubepods.slice/kubepods-pod{under}.slice/crio-{ID}.scope"));
        assert_eq!((w.container, w.pod_uid.as_deref()), (container(Runtime::Crio), Some(UID)));
        let w = classify(&format!("/kubepods/besteffort/pod{UID}/{ID}"));
        assert_eq!((w.container, w.pod_uid.as_deref()), (container(Runtime::Unknown), Some(UID)));
        // cri-o's monitor runs beside the container, in the pod but in no container.
        let w = classify(&format!("/kubepods.slice/kubepods-pod{under}.slice/crio-conmon-{ID}.scope"));
        assert_eq!((w.container, w.pod_uid.as_deref()), (None, Some(UID)));
    }

    /// podman with the systemd and cgroupfs drivers; its monitor is no container.
    #[test]
    fn cgroup_classifies_podman() {
        assert_eq!(classify(&format!("/machine.slice/libpod-{ID}.scope")).container, container(Runtime::Podman));
        assert_eq!(classify(&format!("/libpod_parent/libpod-{ID}")).container, container(Runtime::Podman));
        assert_eq!(classify(&format!("/machine.slice/libpod-conmon-{ID}.scope")).container, None);
        let rootless = format!("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope/container");
        assert_eq!(classify(&rootless).container, container(Runtime::Podman));
    }

    /// systemd units: services, user sessions and user services, the root and init.scope.
    #[test]
    fn cgroup_classifies_systemd_units() {
        let unit = |p: &str| classify(p).systemd_unit;
        assert_eq!(unit("/system.slice/nginx.service").as_deref(), Some("nginx.service"));
        assert_eq!(unit("/user.slice/user-1000.slice/session-2.scope").as_deref(), Some("session-2.scope"));
        assert_eq!(
            unit("/user.slice/user-1000.slice/user@1000.service/app.slice/pipewire.service").as_deref(),
            Some("pipewire.service")
        );
        assert_eq!(unit("/init.scope").as_deref(), Some("init.scope"));
        assert_eq!(classify("/"), Workload::default());
        assert_eq!(classify(""), Workload::default());
        assert_eq!(unit("/system.slice"), None);
    }

    /// Look-alikes are not containers or pods: short or uppercase ids, bad uids, bare hex at the
    /// top, a hostile name with control characters and multi-byte text past the length cap.
    #[test]
    fn cgroup_classification_rejects_look_alikes() {
        assert_eq!(classify("/system.slice/docker-abc.scope").container, None);
        assert_eq!(classify(&format!("/system.slice/docker-{}.scope", ID.to_uppercase())).container, None);
        assert_eq!(classify(&format!("/{ID}")).container, None);
        assert_eq!(classify("/kubepods/pod-not-a-uid/x").pod_uid, None);
        assert_eq!(classify("/kubepods.slice/kubepods-pod.slice").pod_uid, None);
        let hostile = format!("/a\u{1b}[31m/docker-{ID}.scope\u{7}");
        assert_eq!(classify(&hostile).container, None);
        let long = format!("/{}/docker-{ID}.scope", "é".repeat(3000));
        assert_eq!(classify(&long).container, None);
    }

    /// Group labels of each grouping, with and without a known cgroup.
    /// A cgroup is within its own path and its ancestors' (a trailing `/` or not), not within
    /// a sibling sharing a prefix; its lineage lists the ancestors below the root, then itself.
    #[test]
    fn cgroup_within_and_lineage() {
        let c = |path: &str| Cgroup { id: 5, path: path.to_string() };
        let ab = c("/a/b");
        for (path, within) in
            [("/a", true), ("/a/", true), ("/a/b", true), ("/", true), ("/ab", false), ("/a/bc", false)]
        {
            assert_eq!(ab.is_within(path), within, "{path}");
        }
        assert!(!c("/a/bc").is_within("/a/b"));
        assert!(c("").is_within("cgroup:5") && !c("").is_within("/"));
        assert_eq!(ab.lineage(), ["/a", "/a/b"]);
        assert_eq!(c("/").lineage(), Vec::<String>::new());
        assert_eq!(c("/x").lineage(), ["/x"]);
        assert_eq!(c("").lineage(), ["cgroup:5"]);
    }

    #[test]
    fn cgroup_grouping_labels() {
        let c = Cgroup { id: 7, path: format!("/system.slice/docker-{ID}.scope") };
        assert_eq!(CgroupGrouping::Container.label(Some(&c)), format!("docker:{}", &ID[..12]));
        assert_eq!(CgroupGrouping::Unit.label(Some(&c)), format!("docker-{ID}.scope"));
        assert_eq!(CgroupGrouping::Cgroup.label(Some(&c)), c.path);
        let gone = Cgroup { id: 9, path: String::new() };
        assert_eq!(CgroupGrouping::Cgroup.label(Some(&gone)), "cgroup:9");
        assert_eq!(CgroupGrouping::Container.label(Some(&gone)), "[no container]");
        assert_eq!(CgroupGrouping::Unit.label(None), "[no unit]");
    }
}
