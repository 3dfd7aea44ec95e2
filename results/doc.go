// Package results holds what one combination (writer x reader) earned in
// one real run: the schema of a result in report.json (Result, its
// Evidence and, in step mode, its StepTrace) that the engine and step mode
// fill in and the reports package renders. It depends on nothing but the
// verdict words, so every other package can use it.
//
// Every field of a Result comes from a run; nothing is filled in from
// expectations. docs/report-schema.md describes the fields.
package results
