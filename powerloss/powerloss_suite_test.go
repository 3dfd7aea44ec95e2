package powerloss_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestPowerLoss(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "PowerLoss Suite")
}
