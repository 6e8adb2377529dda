//! A small line diff (longest common subsequence) in unified format, for
//! showing how a scenario's output differs from its expected blocks.

/// One line of an edit script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edit<'a> {
    Same(&'a str),
    Del(&'a str),
    Add(&'a str),
}

fn edits<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<Edit<'a>> {
    // lcs[i][j] = LCS length of a[i..] and b[j..].
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] =
                if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(n.max(m));
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            out.push(Edit::Same(a[i]));
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] > lcs[i + 1][j]) {
            out.push(Edit::Add(b[j]));
            j += 1;
        } else {
            out.push(Edit::Del(a[i]));
            i += 1;
        }
    }
    out
}

/// A unified diff of `expected` → `actual` with `context` lines around each
/// change; empty when the texts are equal.
pub fn unified(expected: &str, actual: &str, name: &str, context: usize) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    let e = edits(&a, &b);
    if e.iter().all(|x| matches!(x, Edit::Same(_))) {
        return String::new();
    }
    // Line numbers (1-based) before each edit.
    let mut pos = Vec::with_capacity(e.len());
    let (mut la, mut lb) = (1, 1);
    for x in &e {
        pos.push((la, lb));
        match x {
            Edit::Same(_) => {
                la += 1;
                lb += 1;
            }
            Edit::Del(_) => la += 1,
            Edit::Add(_) => lb += 1,
        }
    }
    let changed: Vec<usize> =
        e.iter().enumerate().filter(|(_, x)| !matches!(x, Edit::Same(_))).map(|(i, _)| i).collect();
    let mut out = format!("--- {name} (expected)\n+++ {name} (actual)\n");
    let mut k = 0;
    while k < changed.len() {
        let start = changed[k].saturating_sub(context);
        let mut end = changed[k];
        while k + 1 < changed.len() && changed[k + 1] <= end + 2 * context + 1 {
            k += 1;
            end = changed[k];
        }
        let end = (end + context + 1).min(e.len());
        let (sa, sb) = pos[start];
        let ca = e[start..end].iter().filter(|x| !matches!(x, Edit::Add(_))).count();
        let cb = e[start..end].iter().filter(|x| !matches!(x, Edit::Del(_))).count();
        out.push_str(&format!("@@ -{sa},{ca} +{sb},{cb} @@\n"));
        for x in &e[start..end] {
            match x {
                Edit::Same(l) => out.push_str(&format!(" {l}\n")),
                Edit::Del(l) => out.push_str(&format!("-{l}\n")),
                Edit::Add(l) => out.push_str(&format!("+{l}\n")),
            }
        }
        k += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_have_no_diff() {
        assert_eq!(unified("a\nb\n", "a\nb\n", "x", 3), "");
    }

    #[test]
    fn one_change_with_context() {
        let a = "1\n2\n3\n4\n5\n6\n7\n8\n";
        let b = "1\n2\n3\n4\nfive\n6\n7\n8\n";
        assert_eq!(
            unified(a, b, "s", 1),
            "--- s (expected)\n+++ s (actual)\n@@ -4,3 +4,3 @@\n 4\n-5\n+five\n 6\n"
        );
    }

    #[test]
    fn separate_hunks_and_additions() {
        let a = "a\nb\nc\nd\ne\nf\ng\n";
        let b = "x\na\nb\nc\nd\ne\nf\n";
        let d = unified(a, b, "s", 0);
        assert_eq!(
            d,
            "--- s (expected)\n+++ s (actual)\n@@ -1,0 +1,1 @@\n+x\n@@ -7,1 +8,0 @@\n-g\n"
        );
    }
}
