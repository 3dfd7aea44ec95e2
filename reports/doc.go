// Package reports turns the results of a mapchaos run into the report files
// that docs/contracts.md promises: report.json (the contract, schema
// "mapchaos.report/v1"), report.md (ready to paste into a postmortem),
// report.html (one self-contained page) and junit.xml (for CI).
//
// The schema types are Report, Run and Entry (docs/report-schema.md). Run
// describes the environment (CaptureRun fills what the process can learn
// about itself); each Entry is one writer x reader combination: its
// results.Result plus the expected verdict and whether it was met. A
// step-mode report's sequences of states are rendered by every format:
// report.md ends with them, report.html opens them from each cell.
//
// The renderers (JSON, Markdown, HTML, JUnit) are pure functions of a
// Report: the same report gives the same bytes, so they can be tested with
// Example tests and called from a suite's ReportAfterSuite. WriteAll writes
// all four files, each atomically, and Read loads a report.json back,
// checking its schema (at most MaxReadSize, 64 MiB; ReadContext stops
// when its context ends). Merge puts reports from several machines or
// architectures side by side.
//
// Everything that comes from a run (stderr, traces, details) is treated as
// untrusted text: the HTML is escaped by html/template, the XML by
// encoding/xml, and Markdown puts such text in code spans or fenced blocks
// long enough not to be closed by the text itself.
package reports
