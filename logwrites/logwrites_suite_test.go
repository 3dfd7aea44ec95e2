package logwrites_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestLogWrites(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "LogWrites Suite")
}
