//! Drawing `prof top`'s view with ratatui: a header line, the table (or a function's callers
//! and callees), and a footer of key hints, help, the filter being typed or the latest message.
//! Every name shown went through the one sanitizer of terminal text first.

use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row as TableRow, Table, TableState};
use ratatui::Frame;

use crate::top_view::View;
use prof::output::text::escape_controls as esc;
use prof::top::{Edge, FunctionKey, SortKey};

const HINTS: &str = "q quit  s/t/n sort  p pause  / filter  Enter zoom  Esc back  h help";
const HELP: &str = "q quit · s self · t total · n name · p pause · / regex filter on function or process (empty clears) · Enter callers/callees · Esc back · ↑↓ PgUp PgDn Home End move";

/// Draws the whole view.
pub fn draw(frame: &mut Frame, view: &mut View) {
    let [header, body, footer] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(1), Constraint::Length(1)]).areas(frame.area());
    frame.render_widget(
        Paragraph::new(header_text(view, usize::from(header.width)))
            .style(Style::new().add_modifier(Modifier::REVERSED)),
        header,
    );
    // The table's header row aside, the lines a page holds.
    view.page = usize::from(body.height.saturating_sub(1)).max(1);
    view.scroll_to_selection();
    let (table, mut state) = match view.zoom.clone() {
        Some((key, _)) => zoom_table(view, &key),
        None => main_table(view),
    };
    frame.render_stateful_widget(table, body, &mut state);
    frame.render_widget(Paragraph::new(footer_text(view)), footer);
}

/// The header line: what the view is in (sort, filter, pause) first, so it is never cut off,
/// then what is sampled; the target's middle gives way when the line is wider than `width`.
fn header_text(view: &View, width: usize) -> String {
    let w = &view.shown;
    let mut state = vec![format!("sort: {}", view.sort.label())];
    if let Some((_, text)) = &view.filter {
        state.push(format!("filter: /{}/", esc(text)));
    }
    if view.paused {
        state.push("PAUSED".to_string());
    }
    let mut rest = Vec::new();
    let mut target = None;
    match w.last_meta() {
        Some(meta) => {
            target = Some(esc(&meta.target).into_owned());
            rest.push(format!("{} {} Hz", meta.event, meta.frequency_hz));
            rest.push(format!(
                "{} {} last interval",
                w.last_samples(),
                prof::output::text::noun_for(w.last_samples(), "sample")
            ));
        }
        None => rest.push("waiting for the first interval…".to_string()),
    }
    rest.push(format!("window ×7/8 per {} s", view.delay));
    let join = |target: Option<&str>| {
        let mut parts = vec!["prof top".to_string()];
        parts.extend(state.iter().cloned());
        parts.extend(target.map(str::to_string));
        parts.extend(rest.iter().cloned());
        parts.join(" · ")
    };
    let full = join(target.as_deref());
    let over = full.chars().count().saturating_sub(width);
    match target {
        Some(t) if over > 0 => join(Some(&elide_middle(&t, t.chars().count().saturating_sub(over).max(12)))),
        _ => full,
    }
}

/// `text` cut to at most `keep` characters by replacing its middle with `…`.
fn elide_middle(text: &str, keep: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= keep {
        return text.to_string();
    }
    let head = keep.saturating_sub(1) / 2;
    let tail = keep.saturating_sub(1) - head;
    let mut out: String = chars[..head].iter().collect();
    out.push('…');
    out.extend(&chars[chars.len() - tail..]);
    out
}

fn footer_text(view: &View) -> Line<'static> {
    if let Some(text) = &view.editing {
        return Line::from(format!(
            "filter (regex on function or process, Enter applies, Esc cancels): /{}",
            esc(text)
        ));
    }
    if view.help {
        return Line::from(HELP);
    }
    match &view.message {
        Some(m) => Line::from(esc(m).into_owned()),
        None => Line::from(HINTS),
    }
}

fn header_row(cells: [&'static str; 6], sort: Option<SortKey>) -> TableRow<'static> {
    let mark = |i: usize| {
        matches!((sort, i), (Some(SortKey::SelfShare), 0) | (Some(SortKey::Total), 1) | (Some(SortKey::Name), 3))
    };
    TableRow::new(cells.iter().enumerate().map(|(i, c)| {
        let style = if mark(i) {
            Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
        } else {
            Style::new().add_modifier(Modifier::BOLD)
        };
        Cell::from(*c).style(style)
    }))
}

const WIDTHS: [Constraint; 6] = [
    Constraint::Length(7),
    Constraint::Length(7),
    Constraint::Length(9),
    Constraint::Fill(3),
    Constraint::Fill(1),
    Constraint::Fill(1),
];

/// The table's visible rows only: a system-wide table has thousands, and each is formatted and
/// escaped at every draw.
fn main_table(view: &View) -> (Table<'static>, TableState) {
    let visible = view.rows.iter().skip(view.offset).take(view.page);
    let rows = visible.map(|r| {
        TableRow::new([
            format!("{:.2}%", r.self_pct),
            format!("{:.2}%", r.total_pct),
            format!("{:.0}", r.self_weight),
            esc(&r.key.name).into_owned(),
            module_text(&r.key.module),
            esc(&r.key.comm).into_owned(),
        ])
    });
    let table = Table::new(rows, WIDTHS)
        .header(header_row(["Self", "Total", "Samples", "Function", "Module", "Process"], Some(view.sort)))
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED));
    let selected = (!view.rows.is_empty()).then(|| view.selected.saturating_sub(view.offset));
    (table, TableState::new().with_selected(selected))
}

fn module_text(module: &str) -> String {
    if module.is_empty() {
        "?".to_string()
    } else {
        esc(module).into_owned()
    }
}

/// The zoom: callers (share of the function's total), the function, callees and `[self]`.
fn zoom_table(view: &View, key: &FunctionKey) -> (Table<'static>, TableState) {
    let z = prof::top::zoom(&view.shown, key);
    let window_total = view.shown.total();
    let pct = if window_total > 0.0 { 100.0 * z.total_weight / window_total } else { 0.0 };
    let edge = |e: &Edge, role: &'static str| {
        TableRow::new([
            role.to_string(),
            format!("{:.2}%", e.pct),
            format!("{:.0}", e.weight),
            format!("  {}", esc(&e.name)),
            module_text(&e.module),
            esc(&key.comm).into_owned(),
        ])
    };
    let mut rows: Vec<TableRow> = z.callers.iter().map(|e| edge(e, "caller")).collect();
    rows.push(
        TableRow::new([
            "▶".to_string(),
            format!("{pct:.2}%"),
            format!("{:.0}", z.total_weight),
            esc(&key.name).into_owned(),
            module_text(&key.module),
            esc(&key.comm).into_owned(),
        ])
        .style(Style::new().add_modifier(Modifier::BOLD)),
    );
    rows.extend(z.callees.iter().map(|e| edge(e, "callee")));
    let rows: Vec<TableRow> = rows.into_iter().skip(view.offset).take(view.page).collect();
    let table = Table::new(rows, WIDTHS)
        .header(header_row(["", "Share", "Samples", "Callers above, callees below", "Module", "Process"], None))
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED));
    (table, TableState::new().with_selected(Some(view.selected.saturating_sub(view.offset))))
}

#[cfg(test)]
mod tests {
    use super::elide_middle;

    #[test]
    fn elide_middle_keeps_both_ends() {
        assert_eq!(elide_middle("/usr/bin/python3", 40), "/usr/bin/python3");
        let cut = elide_middle("/check/work/main/target/tmp/workloads/w_split (+1 arg)", 24);
        assert_eq!(cut.chars().count(), 24);
        assert!(cut.starts_with("/check/work") && cut.ends_with("(+1 arg)") && cut.contains('…'), "{cut}");
        assert_eq!(elide_middle("ééééé", 3), "é…é");
    }
}
