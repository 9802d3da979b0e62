//! Repository-level promises: the documents a newcomer relies on stay true.

use llm_sso_kit::{missing_code_map_paths, workspace_root};

#[test]
fn every_path_in_the_architecture_code_map_exists() {
    let root = workspace_root();
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md at the root");
    let missing = missing_code_map_paths(&text, &root);
    assert!(missing.is_empty(), "ARCHITECTURE.md names paths that do not exist: {missing:?}");
}

#[test]
fn the_code_map_check_catches_a_stale_entry() {
    let root = workspace_root();
    let doc =
        "# A\n## Code map\n- `Cargo.toml` fine\n- `nowhere/gone.rs` stale\n## Invariants\n- `also/not/checked.rs`\n";
    assert_eq!(missing_code_map_paths(doc, &root), vec!["nowhere/gone.rs".to_string()]);
    assert_eq!(missing_code_map_paths("no map here", &root).len(), 1);
}

#[test]
fn readme_starts_with_the_two_commands_and_ci_runs_the_test_command() {
    let root = workspace_root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let head: String = readme.lines().take(20).collect::<Vec<_>>().join("\n");
    assert!(head.contains("cargo run --bin up"), "README must open with the command that starts the offline stack");
    assert!(head.contains("cargo test"), "README must open with the test command");
    let ci = std::fs::read_to_string(root.join(".ci/run")).expect(".ci/run");
    assert!(ci.contains("cargo test --workspace"), ".ci/run must run the README's test command");
}

/// Tags used on `Feature:` or `Scenario` lines of every `.feature` file.
fn feature_tags(root: &std::path::Path) -> std::collections::BTreeSet<String> {
    let mut tags = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(root.join("features")).expect("features/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "feature") {
            let text = std::fs::read_to_string(&path).expect("readable feature");
            for line in text.lines().map(str::trim).filter(|l| l.starts_with('@')) {
                tags.extend(line.split_whitespace().map(str::to_string));
            }
        }
    }
    tags
}

#[test]
fn the_features_index_matches_the_feature_files() {
    let root = workspace_root();
    let index = std::fs::read_to_string(root.join("features/README.md")).expect("features/README.md");
    let used = feature_tags(&root);
    let mut listed = std::collections::BTreeSet::new();
    let mut pending = Vec::new();
    for row in index.lines().filter(|l| l.starts_with("| ") && l.contains("`@")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (tag, status) = (cells[3].trim_matches('`').to_string(), cells[4]);
        match status {
            "covered" => assert!(used.contains(&tag), "{tag} is marked covered but no scenario carries it"),
            "pending" => {
                assert!(!used.contains(&tag), "{tag} has scenarios: mark it covered in features/README.md");
                pending.push(tag.clone());
            }
            other => panic!("unknown status {other:?} for {tag}"),
        }
        listed.insert(tag);
    }
    assert!(listed.len() >= 23, "every area of the guide has a row");
    let unlisted: Vec<&String> = used.iter().filter(|t| t.starts_with("@guide-") && !listed.contains(*t)).collect();
    assert!(unlisted.is_empty(), "tags missing from features/README.md: {unlisted:?}");
    if !pending.is_empty() {
        eprintln!(
            "\n!!! conformance kit: {} guide sections have no scenario yet: {}\n",
            pending.len(),
            pending.join(" ")
        );
    }
}

/// `docs/troubleshooting.md` points at feature files: each exists, and each feature file is pointed at.
#[test]
fn the_troubleshooting_guide_points_at_every_feature_file_and_only_real_ones() {
    let root = workspace_root();
    let guide = std::fs::read_to_string(root.join("docs/troubleshooting.md")).expect("docs/troubleshooting.md");
    let named: std::collections::BTreeSet<String> = guide
        .split('`')
        .filter(|s| s.starts_with("features/") && s.ends_with(".feature"))
        .map(str::to_string)
        .collect();
    for path in &named {
        assert!(root.join(path).is_file(), "docs/troubleshooting.md names {path}, which does not exist");
    }
    for entry in std::fs::read_dir(root.join("features")).expect("features/").flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.ends_with(".feature") {
            assert!(named.contains(&format!("features/{name}")), "docs/troubleshooting.md never mentions {name}");
        }
    }
}

/// Every Markdown link between the documents resolves to a file.
#[test]
fn links_between_documents_resolve() {
    let root = workspace_root();
    let mut docs: Vec<String> = vec!["README.md".into(), "ARCHITECTURE.md".into()];
    let in_docs = std::fs::read_dir(root.join("docs")).expect("docs/");
    docs.extend(
        in_docs
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter_map(|name| name.ends_with(".md").then(|| format!("docs/{name}"))),
    );
    assert!(docs.len() > 6, "every document is checked: {docs:?}");
    for doc in &docs {
        let path = root.join(doc);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{doc}: {e}"));
        for target in text.split("](").skip(1).filter_map(|rest| rest.split(')').next()) {
            if target.starts_with("http") || target.starts_with('#') {
                continue;
            }
            let file = target.split('#').next().unwrap_or(target);
            let resolved = path.parent().map(|dir| dir.join(file)).unwrap_or_default();
            assert!(resolved.exists(), "{doc} links to {target}, which does not exist");
        }
    }
}

/// The kit is black-box: it reaches the proxy only through its public surfaces
/// (HTTP, console, config file, database schema, command line), so another
/// implementation is tested without our code in the loop. Proven on the
/// resolved dependency tree, dev-dependencies included.
#[test]
fn the_kit_does_not_link_the_proxy_crate() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["tree", "-p", "llm-sso-kit", "-e", "normal,dev,build", "--prefix", "none", "--offline"])
        .output()
        .expect("cargo tree runs");
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(tree.lines().any(|l| l.starts_with("llm-sso-kit ")), "the kit's tree: {tree}");
    let linked: Vec<&str> = tree.lines().filter(|l| l.starts_with("llm-sso-proxy ")).collect();
    assert!(linked.is_empty(), "the kit depends on the proxy crate: {linked:?}");
}

/// docs/agents.md states what CI tests: every pinned agent version, and the exact Codex configuration the
/// agents test writes, so a recipe cannot drift from what was run.
#[test]
fn the_agents_guide_matches_what_ci_runs() {
    let root = workspace_root();
    let guide = std::fs::read_to_string(root.join("docs/agents.md")).expect("docs/agents.md");
    let versions = std::fs::read_to_string(root.join("tests/agents/versions.txt")).expect("versions.txt");
    let pinned: Vec<(String, String)> = versions
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            (fields[2].to_string(), fields[3].to_string())
        })
        .collect();
    assert_eq!(pinned.len(), 3, "Claude Code, Codex CLI and aider are pinned");
    for (package, version) in &pinned {
        assert!(guide.contains(&format!("`{package}` {version}")), "docs/agents.md must say {package} {version}");
    }
    let codex = std::fs::read_to_string(root.join("tests/agents/codex-config.toml")).expect("codex config");
    assert!(guide.contains(&codex), "docs/agents.md must show tests/agents/codex-config.toml verbatim");
    let ci = std::fs::read_to_string(root.join(".ci/run")).expect(".ci/run");
    assert!(ci.contains("tests/agents/versions.txt"), ".ci/run installs the pinned agents");
}

/// Every tracked Rust source file is in ARCHITECTURE.md's code map: by its own path, or by its folder
/// (written with a trailing slash, as for the test modules of one binary).
#[test]
fn every_source_file_is_in_the_code_map() {
    let root = workspace_root();
    let map = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let listed = |path: &str| {
        let folder = path.rsplit_once('/').map(|(dir, _)| format!("`{dir}/`")).unwrap_or_default();
        map.contains(&format!("`{path}`")) || (!folder.is_empty() && map.contains(&folder))
    };
    let missing: Vec<String> = rust_sources(&root).into_iter().filter(|p| !listed(p)).collect();
    assert!(missing.is_empty(), "source files missing from ARCHITECTURE.md's code map: {missing:?}");
}

/// Workspace-relative paths of the Rust sources (target/, .agents/ and hidden folders left out).
fn rust_sources(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with('.') || name == "target" || name == "node_modules" {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if name.ends_with(".rs") {
                let relative = path.strip_prefix(root).map(|p| p.to_string_lossy().replace('\\', "/"));
                out.extend(relative.ok());
            }
        }
    }
    out.sort();
    out
}

/// The proxy crate's top-level modules reference each other without cycles (tests excluded),
/// and the library never depends on the commands built on it.
#[test]
fn the_proxy_crate_has_no_module_cycles() {
    use std::collections::{BTreeMap, BTreeSet};
    let root = workspace_root();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in rust_sources(&root).into_iter().filter(|p| p.starts_with("proxy/src/")) {
        let inner = &path["proxy/src/".len()..];
        let module = inner.split('/').next().unwrap_or_default().trim_end_matches(".rs").to_string();
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(root.join(&path)).unwrap_or_default();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for line in code.lines().map(|l| l.split("//").next().unwrap_or_default()) {
            for piece in line.split("crate::").skip(1) {
                let target: String = piece.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
                if !target.is_empty() && target != module {
                    edges.entry(module.clone()).or_default().insert(target);
                }
            }
        }
    }
    // A cycle exists when a module reaches itself.
    for start in edges.keys() {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&String> = edges[start].iter().collect();
        while let Some(next) = todo.pop() {
            assert!(next != start, "module cycle through `{start}` (edges: {edges:?})");
            if seen.insert(next.clone()) {
                todo.extend(edges.get(next).into_iter().flatten());
            }
        }
    }
    let reads = |from: &str, to: &str| edges.get(from).is_some_and(|e| e.contains(to));
    assert!(reads("server", "agent") && reads("commands", "server"), "the proxy's modules were read: {edges:?}");
    // Commands sit on top of the library: nothing in it reaches up to them.
    let upward: Vec<&String> = edges.iter().filter(|(_, to)| to.contains("commands")).map(|(from, _)| from).collect();
    assert!(upward.is_empty(), "library modules that depend on `commands`: {upward:?}");
}

/// Inside every module folder of the proxy, files reference each other one way: a sibling through
/// `super::sibling::Item` (or `crate::folder::sibling`), the folder's `mod.rs` through `super::Item`, and
/// `mod.rs` its children through `child::Item`. No path may lead a file back to itself, so each folder reads
/// bottom-up; `mod.rs` sits on top and defines nothing its children use.
#[test]
fn no_module_folder_of_the_proxy_has_a_cycle() {
    let root = workspace_root();
    let edges = folder_edges(&root);
    let cycles = cycles_in(&edges);
    assert!(cycles.is_empty(), "cycles inside module folders (folder: a -> b -> ... -> a):\n{}", cycles.join("\n"));
    let reads = |folder: &str, from: &str, to: &str| {
        edges.get(folder).and_then(|e| e.get(from)).is_some_and(|e| e.contains(to))
    };
    assert!(reads("sso", "mod", "login") && reads("agent", "auth", "routes"), "the folders were read: {edges:?}");
}

#[test]
fn the_folder_check_sees_a_back_edge() {
    use std::collections::{BTreeMap, BTreeSet};
    let mut sso: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let text = "use super::{cookies, SsoState};\nfn f() { super::grant::issue(); }\n";
    for target in super_targets(text, "crate::sso::") {
        sso.entry("login".into()).or_default().insert(target);
    }
    assert_eq!(sso["login"], ["cookies", "grant", "SsoState"].map(String::from).into_iter().collect());
    sso.entry("grant".into()).or_default().insert("login".into());
    let edges = BTreeMap::from([("sso".to_string(), sso)]);
    assert_eq!(cycles_in(&edges), vec!["sso: grant -> login -> grant".to_string()]);
}

type FolderEdges =
    std::collections::BTreeMap<String, std::collections::BTreeMap<String, std::collections::BTreeSet<String>>>;

/// For each folder under `proxy/src`, which of its files (by module name, `mod` for `mod.rs`) names which.
fn folder_edges(root: &std::path::Path) -> FolderEdges {
    use std::collections::BTreeSet;
    let sources: Vec<String> = rust_sources(root).into_iter().filter(|p| p.starts_with("proxy/src/")).collect();
    let folder_of =
        |path: &str| path.rsplit_once('/').map(|(dir, _)| dir["proxy/src".len()..].trim_start_matches('/').to_string());
    // The modules each folder holds.
    let mut children: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
    for path in &sources {
        let Some(folder) = folder_of(path) else { continue };
        let file = path.rsplit('/').next().unwrap_or_default().trim_end_matches(".rs").to_string();
        if file == "mod" {
            if let Some((parent, name)) = folder.rsplit_once('/') {
                children.entry(parent.to_string()).or_default().insert(name.to_string());
            } else if !folder.is_empty() {
                children.entry(String::new()).or_default().insert(folder.clone());
            }
        } else {
            children.entry(folder).or_default().insert(file);
        }
    }
    let mut edges = FolderEdges::new();
    for path in &sources {
        let Some(folder) = folder_of(path) else { continue };
        if folder.is_empty() {
            continue;
        }
        let text = std::fs::read_to_string(root.join(path)).unwrap_or_default();
        let code: String = text
            .split("#[cfg(test)]")
            .next()
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let file = path.rsplit('/').next().unwrap_or_default().trim_end_matches(".rs").to_string();
        let mut add = |folder: &str, from: &str, target: String| {
            let siblings = children.get(folder).cloned().unwrap_or_default();
            let to = if siblings.contains(&target) {
                target
            } else if target == "super" {
                return;
            } else {
                "mod".into()
            };
            if to != from {
                edges.entry(folder.to_string()).or_default().entry(from.to_string()).or_default().insert(to);
            }
        };
        if file == "mod" {
            // mod.rs names its children by their module names ...
            for child in children.get(&folder).cloned().unwrap_or_default() {
                let named = code
                    .match_indices(&format!("{child}::"))
                    .any(|(at, _)| !code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':'));
                if named {
                    add(&folder, "mod", child);
                }
            }
            // ... and, as a module of its parent folder, reaches its siblings through `super::`.
            if let Some((parent, name)) = folder.rsplit_once('/') {
                let crate_path = format!("crate::{}::", parent.replace('/', "::"));
                for target in super_targets(&code, &crate_path) {
                    add(parent, name, target);
                }
            }
        } else {
            let crate_path = format!("crate::{}::", folder.replace('/', "::"));
            for target in super_targets(&code, &crate_path) {
                add(&folder, &file, target);
            }
        }
    }
    edges
}

/// The first name of every path that starts with `super::` or with `crate_path` (`use super::{a, b::c}` gives
/// `a` and `b`; `super::Item` gives `Item`).
fn super_targets(code: &str, crate_path: &str) -> Vec<String> {
    let ident =
        |s: &str| -> String { s.trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect() };
    let mut out = Vec::new();
    for prefix in ["super::", crate_path] {
        for (at, _) in code.match_indices(prefix) {
            if prefix == "super::" && code[..at].ends_with("super::") {
                continue;
            }
            let rest = &code[at + prefix.len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let (mut depth, mut item, mut items) = (0, String::new(), Vec::new());
                for c in group.chars() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => items.push(std::mem::take(&mut item)),
                        _ => {}
                    }
                    if depth == 0 && c != ',' && c != '}' || depth > 0 {
                        item.push(c);
                    }
                }
                items.push(item);
                out.extend(
                    items
                        .iter()
                        .map(|i| ident(i))
                        .filter(|i| !i.is_empty())
                        .map(|i| if i == "self" { "mod".into() } else { i }),
                );
            } else {
                let name = ident(rest);
                if !name.is_empty() {
                    out.push(if name == "self" { "mod".into() } else { name });
                }
            }
        }
    }
    out
}

/// Every cycle as `folder: a -> b -> a`, one per folder and starting node, shortest path back.
fn cycles_in(edges: &FolderEdges) -> Vec<String> {
    let mut out = Vec::new();
    for (folder, graph) in edges {
        for start in graph.keys() {
            // Breadth-first from `start`, remembering how each node was reached.
            let mut came_from: std::collections::BTreeMap<&String, &String> = Default::default();
            let mut queue: std::collections::VecDeque<&String> = graph[start].iter().collect();
            for next in &queue {
                came_from.insert(next, start);
            }
            while let Some(node) = queue.pop_front() {
                if node == start {
                    let mut path = vec![start.clone()];
                    let mut at = came_from[start];
                    while at != start {
                        path.push(at.clone());
                        at = came_from[at];
                    }
                    path.push(start.clone());
                    path.reverse();
                    out.push(format!("{folder}: {}", path.join(" -> ")));
                    break;
                }
                for next in graph.get(node).into_iter().flatten() {
                    if !came_from.contains_key(next) {
                        came_from.insert(next, node);
                        queue.push_back(next);
                    }
                }
            }
        }
    }
    // One line per cycle, whichever node it was found from.
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|line| {
        let (folder, path) = line.split_once(": ").unwrap_or_default();
        let mut nodes: Vec<&str> = path.split(" -> ").skip(1).collect();
        nodes.sort();
        seen.insert(format!("{folder} {nodes:?}"))
    });
    out
}

/// The repository speaks to its readers: no internal issue numbers and no paths to documents outside it
/// (the product contract and the project's own notes live elsewhere, and a reader does not have them).
#[test]
fn no_file_names_an_issue_number_or_a_document_outside_the_repository() {
    let root = workspace_root();
    let out = std::process::Command::new("git").current_dir(&root).args(["ls-files", "-z"]).output();
    let files: Vec<String> = match out {
        Ok(out) if out.status.success() => {
            String::from_utf8_lossy(&out.stdout).split('\0').filter(|f| !f.is_empty()).map(str::to_string).collect()
        }
        _ => panic!("git ls-files failed: the check needs the repository's file list"),
    };
    // Written in pieces so this file does not match itself.
    let outside = [concat!("../", "shared"), concat!("SPEC", ".md"), concat!("SPEC", " §"), concat!("STACK", "-NOTES")];
    let mut found = Vec::new();
    for file in &files {
        let Ok(text) = std::fs::read_to_string(root.join(file)) else { continue }; // binary or removed
        for (n, line) in text.lines().enumerate() {
            let lower = line.to_lowercase();
            let issue_number = lower.match_indices("issue").any(|(at, word)| {
                let rest = lower[at + word.len()..].trim_start_matches(['s', ' ', '#']);
                rest.starts_with(|c: char| c.is_ascii_digit()) && !lower[at + word.len()..].starts_with(['r', 'd'])
            });
            if issue_number || outside.iter().any(|p| line.contains(p)) {
                found.push(format!("{file}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "lines that point outside the repository or at an issue number:\n{}", found.join("\n"));
}
