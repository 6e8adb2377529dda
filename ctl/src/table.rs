//! Aligned text tables, laid out like Go's `text/tabwriter` with the
//! settings `influxd-ctl` output shows: cells padded with spaces to the
//! widest cell of their column plus 3, and at least 8 wide.

/// Minimum column width.
pub const MIN_WIDTH: usize = 8;
/// Spaces after the widest cell.
pub const PADDING: usize = 3;

/// Renders rows of cells; the last cell of a row is never padded.
pub fn render(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i + 1 < row.len() {
                widths[i] = widths[i].max(cell.chars().count() + PADDING).max(MIN_WIDTH);
            }
        }
    }
    let mut out = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i].saturating_sub(cell.chars().count());
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    }
    out
}

/// Renders rows like Go's `tabwriter.NewWriter(w, min_width, _, padding, ' ', 0)`
/// (`show-shards`, `entropy show` and `copy-shard-status` use 1 and 2).
pub fn render_with(rows: &[Vec<String>], min_width: usize, padding: usize) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i + 1 < row.len() {
                widths[i] = widths[i].max(cell.chars().count() + padding).max(min_width);
            }
        }
    }
    let mut out = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < row.len() {
                out.extend(std::iter::repeat_n(
                    ' ',
                    widths[i].saturating_sub(cell.chars().count()),
                ));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn pads_like_tabwriter() {
        let rows = vec![
            vec!["ID".to_string(), "Raft Address".into(), "HTTP Address".into()],
            vec!["1".to_string(), "meta1:8089".into(), "meta1:8091".into()],
        ];
        assert_eq!(
            super::render(&rows),
            "ID      Raft Address   HTTP Address\n1       meta1:8089     meta1:8091\n"
        );
    }
}
