package explain

import (
	"strings"

	"github.com/mapchaos/mapchaos/internal/lazyre"
)

// nfsWords are what in a trace or a report says the file lives on NFS: an
// NFS mount type, EFS, or a report's fs field.
var nfsWords = lazyre.New(`(?i)(\bnfs4?\b|\bnfsv[34]|\bamazon efs\b|\befs\b.*\bmount|\.efs\.[a-z0-9-]+\.amazonaws\.com|"fs":\s*"nfs)`)

// MentionsNFS says whether text says the mapped file is on NFS.
func MentionsNFS(text string) bool { return nfsWords.MatchString(text) }

// OnSharedVolume rewrites x's advice for a file on an NFS volume shared by
// several machines (fs: "nfs4", "nfs3", "nfs", or an --fs name such as
// nfs4-server), with what mapchaos measured on Linux's own NFS server and
// client (README, Findings: NFS). It does nothing for other file systems.
func (x *Explanation) OnSharedVolume(fs string) {
	if !strings.HasPrefix(strings.ToLower(fs), "nfs") && !strings.Contains(strings.ToLower(fs), "efs") {
		return
	}
	x.Volume = fs
	v3 := strings.HasPrefix(fs, "nfs3")
	if x.Cause != "" {
		x.Cause = strings.Replace(x.Cause,
			"Updaters that replace the file by rename(2) (mv, geoipupdate) or swap a symlink cannot do this: the mapped inode stays whole.",
			sharedRename(v3), 1)
	}
	if x.Code == "BUS_OBJERR" || x.Signal == "SIGBUS" {
		x.Notes = append(x.Notes, sharedNote(v3))
	}
	for i := range x.Fixes {
		switch x.Fixes[i].Title {
		case "Replace the file atomically", "Swap a symlink atomically":
			x.Fixes[i].Cost += "; " + sharedCost(v3)
		}
	}
}

// sharedRename is what a rename does on a shared NFS volume.
func sharedRename(v3 bool) string {
	if v3 {
		return "On an NFSv3 volume a rename (or an unlink before writing anew) from another client is not safe for a mapped reader: NFSv3 servers keep no record of which clients have the file open, so the server frees the old file once the rename or unlink removes its last name, and a reader that needs a page of it its client does not hold gets an error from the server, which a mapping turns into SIGBUS (BUS_ADRERR). mapchaos saw it with the readers' pages evicted and without: a mapped reader died within milliseconds of the rename. A symlink swap that keeps the old version's file survived."
	}
	return "On an NFSv4.1 volume (EFS's protocol) a rename or a symlink swap from another client kept the mapped file whole on Linux's NFS server, even with the readers' pages evicted: a reader's client holds the file open on the server (an NFSv4 OPEN), so the server keeps the old file until the reader closes and unmaps it. A server that does not honour that open (some NFS appliances and gateways) frees it, and a reader whose page is not cached then dies with SIGBUS: test on the volume you use (mapchaos check --fs nfs4)."
}

func sharedNote(v3 bool) string {
	if v3 {
		return "The file is on NFSv3: a SIGBUS there can also come from a replaced file the server has already freed (ESTALE on a page the reader's client had evicted), after a rename from another client; reopen the file after every update and do not keep old mappings, or mount with NFSv4.1."
	}
	return "The file is on NFS: a truncating or in-place updater on any client (cp, rsync --inplace, a download to the live path) shrinks the file on the server for every client, and each reader's client drops its cached pages when it sees the change, so readers on other machines die the same way as readers on the updater's own."
}

func sharedCost(v3 bool) string {
	if v3 {
		return "on NFSv3 this is not enough: the server frees the replaced file, so readers must reopen (and unmap the old file) before they read a page their client no longer caches"
	}
	return "on NFSv4.1 the server keeps the replaced file while a reader's client holds it open; a reader that keeps its old mapping for long keeps the old file's space on the volume"
}

var nfs3Words = lazyre.New(`(?i)(\bnfsv3\b|\bvers=3\b|\bnfs3\b)`)

// nfsVersion is "nfs3" when text says NFSv3, else "nfs4".
func nfsVersion(text string) string {
	if nfs3Words.MatchString(text) {
		return "nfs3"
	}
	return "nfs4"
}
