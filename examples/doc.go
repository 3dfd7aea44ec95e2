// Package examples is a suite written the way a team would test its own
// database updater with mapchaos: update.sh installs a new GeoIP database
// by renaming it over the old one; update-in-place.sh, the updater it
// replaced, copies over the old file in place. The suite races both against
// the readers the team's services use:
//
//	go tool ginkgo ./examples
//
// Copy updater_suite_test.go into your repository, point writers.Command at
// your updater, and keep the readers your services use.
package examples
