// Package matchers holds Gomega matchers for race results, in the style of
// gexec's: each takes the smallest interface it needs (anything with an
// Outcome method: results.Result, reports.Entry), and its failure message
// shows the evidence.
//
//	Expect(result).To(matchers.HaveVerdict(verdicts.Crash))
//	Expect(result).To(matchers.BeSafe())
//	Expect(result).NotTo(matchers.Crash())
package matchers
