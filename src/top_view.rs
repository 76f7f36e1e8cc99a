//! `prof top`'s full-screen view: the state (sort, filter, pause, selection, zoom), the keys
//! that change it and the loop that refreshes it; `top_draw.rs` draws it. The terminal is
//! restored on every way out: q, Ctrl-C, SIGTERM, an error, a panic (ratatui's hook).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use regex::Regex;

use crate::top_feed::Feed;
use prof::top::{FunctionKey, Row, SortKey, Window};

/// How long a key press waits at most before the view checks for new intervals and signals.
const KEY_POLL: Duration = Duration::from_millis(100);

/// Longest filter a user can type: a regex is compiled on every Enter.
const MAX_FILTER_LEN: usize = 256;

/// Everything the view shows.
pub struct View {
    /// The window new intervals are added to.
    pub live: Window,
    /// The window shown: `live`, except while paused.
    pub shown: Window,
    /// The table of `shown`, sorted and filtered.
    pub rows: Vec<Row>,
    /// The table's order.
    pub sort: SortKey,
    /// The filter in force, and its text.
    pub filter: Option<(Regex, String)>,
    /// The filter being typed after `/`.
    pub editing: Option<String>,
    /// The display is frozen (intervals still go into `live`).
    pub paused: bool,
    /// Index of the selected row (of the table, or of the zoom's lines).
    pub selected: usize,
    /// The function zoomed into, with the table selection to go back to.
    pub zoom: Option<(FunctionKey, usize)>,
    /// The help line is shown instead of the key hints.
    pub help: bool,
    /// The latest warning or notice, not yet escaped.
    pub message: Option<String>,
    /// Seconds between refreshes.
    pub delay: u64,
    /// The table's visible rows (set when drawing): what PgUp/PgDn move by.
    pub page: usize,
    /// Index of the first line shown.
    pub offset: usize,
}

impl View {
    /// An empty view refreshed every `delay` seconds.
    pub fn new(delay: u64) -> View {
        View {
            live: Window::new(),
            shown: Window::new(),
            rows: Vec::new(),
            sort: SortKey::default(),
            filter: None,
            editing: None,
            paused: false,
            selected: 0,
            zoom: None,
            help: false,
            message: None,
            delay,
            page: 10,
            offset: 0,
        }
    }

    /// Moves the first line shown so that the selection is on the page.
    pub fn scroll_to_selection(&mut self) {
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset.saturating_add(self.page) {
            self.offset = self.selected + 1 - self.page;
        }
    }

    /// Recomputes the table of the shown window, keeping the selection on its function.
    pub fn refresh_rows(&mut self) {
        let keep = self.rows.get(self.selected).map(|r| r.key.clone());
        self.rows = prof::top::rows(&self.shown, self.filter.as_ref().map(|(re, _)| re), self.sort);
        if self.zoom.is_none() {
            self.selected = keep.and_then(|k| self.rows.iter().position(|r| r.key == k)).unwrap_or(0);
        }
    }

    /// Adds new intervals to the live window, and shows it unless paused.
    pub fn add(&mut self, profiles: &[prof::profile::Profile]) {
        if profiles.is_empty() {
            return;
        }
        for p in profiles {
            self.live.add(p);
        }
        if !self.paused {
            self.shown = self.live.clone();
            self.refresh_rows();
        }
    }

    /// Lines the selection can move over: the table's rows, or the zoom's callers and callees.
    fn lines(&self) -> usize {
        match &self.zoom {
            Some((key, _)) => {
                let z = prof::top::zoom(&self.shown, key);
                z.callers.len() + z.callees.len() + 1
            }
            None => self.rows.len(),
        }
    }

    /// Handles a key; `false` when the view should close.
    pub fn key(&mut self, key: KeyEvent) -> bool {
        if key.kind == KeyEventKind::Release {
            return true;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && matches!(key.code, KeyCode::Char('c' | 'd')) {
            return false;
        }
        if self.editing.is_some() {
            self.edit_filter(key.code);
            return true;
        }
        match key.code {
            KeyCode::Char('q') => return false,
            KeyCode::Char('s') => self.set_sort(SortKey::SelfShare),
            KeyCode::Char('t') => self.set_sort(SortKey::Total),
            KeyCode::Char('n') => self.set_sort(SortKey::Name),
            KeyCode::Char('p') => self.toggle_pause(),
            KeyCode::Char('/') => self.editing = Some(self.filter.as_ref().map(|(_, t)| t.clone()).unwrap_or_default()),
            KeyCode::Char('h' | '?') => self.help = !self.help,
            KeyCode::Enter => self.zoom_in(),
            KeyCode::Esc => self.zoom_out(),
            code => self.move_selection(code),
        }
        true
    }

    fn set_sort(&mut self, sort: SortKey) {
        self.sort = sort;
        self.refresh_rows();
    }

    fn toggle_pause(&mut self) {
        self.paused = !self.paused;
        if !self.paused {
            self.shown = self.live.clone();
            self.refresh_rows();
        }
    }

    fn zoom_in(&mut self) {
        if self.zoom.is_some() {
            return;
        }
        if let Some(row) = self.rows.get(self.selected) {
            self.zoom = Some((row.key.clone(), self.selected));
            self.selected = 0;
        }
    }

    fn zoom_out(&mut self) {
        if let Some((_, selected)) = self.zoom.take() {
            self.selected = selected;
            self.refresh_rows();
        }
    }

    fn move_selection(&mut self, code: KeyCode) {
        let last = self.lines().saturating_sub(1);
        self.selected = match code {
            KeyCode::Up => self.selected.saturating_sub(1),
            KeyCode::Down => self.selected.saturating_add(1),
            KeyCode::PageUp => self.selected.saturating_sub(self.page.max(1)),
            KeyCode::PageDown => self.selected.saturating_add(self.page.max(1)),
            KeyCode::Home => 0,
            KeyCode::End => last,
            _ => return,
        }
        .min(last);
    }

    /// A key while the filter is typed: Enter applies it (empty clears it), Esc cancels.
    fn edit_filter(&mut self, code: KeyCode) {
        let Some(text) = &mut self.editing else { return };
        match code {
            KeyCode::Char(c) if text.len() < MAX_FILTER_LEN => text.push(c),
            KeyCode::Backspace => {
                text.pop();
            }
            KeyCode::Esc => self.editing = None,
            KeyCode::Enter => {
                let text = self.editing.take().unwrap_or_default();
                if text.is_empty() {
                    self.filter = None;
                } else {
                    match regex::RegexBuilder::new(&text).size_limit(1 << 20).build() {
                        Ok(re) => self.filter = Some((re, text)),
                        Err(e) => self.message = Some(format!("filter `{text}`: {e}")),
                    }
                }
                self.selected = 0;
                self.zoom = None;
                self.refresh_rows();
            }
            _ => {}
        }
    }
}

/// Runs the view until q, Ctrl-C or `stop` (SIGTERM), on the terminal ratatui set up (raw
/// mode, alternate screen, restored by the caller and by ratatui's panic hook).
pub fn run(terminal: &mut ratatui::DefaultTerminal, feed: &mut Feed, view: &mut View, stop: &AtomicBool) -> Result<()> {
    let refresh = Duration::from_secs(view.delay);
    let mut next_poll = Instant::now();
    let mut dirty = true;
    loop {
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        if Instant::now() >= next_poll {
            // Polled more often than the refresh while nothing came yet, so the first
            // interval shows as soon as it is written.
            let polled = feed.poll()?;
            let got = !polled.profiles.is_empty();
            view.add(&polled.profiles);
            if let Some(m) = polled.messages.into_iter().chain(polled.ended).last() {
                view.message = Some(m);
                dirty = true;
            }
            dirty |= got;
            next_poll = Instant::now() + if got { refresh } else { Duration::from_millis(250) };
        }
        // Drawn when something changed, not at every key poll: a system-wide table is
        // thousands of rows to sort and format.
        if std::mem::take(&mut dirty) {
            terminal.draw(|frame| crate::top_draw::draw(frame, view))?;
        }
        if event::poll(KEY_POLL)? {
            match event::read()? {
                Event::Key(key) if !view.key(key) => return Ok(()),
                Event::Key(_) | Event::Resize(..) => dirty = true,
                _ => {}
            }
        }
    }
}
