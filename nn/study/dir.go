package study

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// A results directory holds study.json, the manifest, and runs/<id>.json
// and runs/<id>.csv for each run it lists. The manifest says which study
// the directory belongs to (study_hash, a SHA-256 of the study object it
// also holds), which shard of it (index and count; count 1 for the whole
// study or a merge) and which runs it holds:
//
//	{
//	  "format": 1,
//	  "study_hash": "3f1c…",
//	  "shard": {"index": 1, "count": 3},
//	  "runs": ["001_full_sgd_lr0.3_seed2", "004_stochastic_sgd_lr0.3_seed2"],
//	  "study": {"name": "moons", "model": {…}, "data_hash": "…", "configs": […], …}
//	}
//
// Writing into a directory that holds another study's or shard's results,
// or files that are not results, is refused (ErrDirInUse): ClearDir clears
// a results directory first. Load refuses run files that the manifest does
// not list.
const (
	manifestName  = "study.json"
	runsDir       = "runs"
	formatVersion = 1
)

type shardJSON struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

type manifest struct {
	Format    int       `json:"format"`
	StudyHash string    `json:"study_hash"`
	Shard     shardJSON `json:"shard"`
	Runs      []string  `json:"runs"`
	Study     metaJSON  `json:"study"`
}

// Fingerprint identifies the study the results come from: the SHA-256, in
// hex, of the study as study.json records it (name, data and its
// fingerprint, model, loss, metrics, configurations, seeds, budget,
// target), without the shard. Shards of one study have equal fingerprints.
func (m Meta) Fingerprint() string {
	b, err := json.Marshal(m.toJSON())
	if err != nil {
		// Only hyperparameters that JSON cannot hold (Validate refuses
		// them) get here; fmt prints maps sorted, so this is stable too.
		b = fmt.Appendf(nil, "%#v", m.toJSON())
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func (m Meta) manifest(runs []string) manifest {
	sh := shardJSON{Index: m.Shard.Index, Count: max(m.Shard.Count, 1)}
	if runs == nil {
		runs = []string{}
	}
	return manifest{Format: formatVersion, StudyHash: m.Fingerprint(), Shard: sh, Runs: runs, Study: m.toJSON()}
}

// readManifest reads dir's study.json and checks its format and hash; the
// error wraps fs.ErrNotExist when there is none.
func readManifest(dir string) (*manifest, Meta, error) {
	path := filepath.Join(dir, manifestName)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, Meta{}, fmt.Errorf("study: %w", err)
	}
	var probe struct {
		Format int `json:"format"`
	}
	if json.Unmarshal(b, &probe) == nil && probe.Format != formatVersion {
		return nil, Meta{}, errorf(ErrMerge, "%s: format %d, want %d: written by another version of descent; rerun it", path, probe.Format, formatVersion)
	}
	var m manifest
	if err := decode(b, path, &m); err != nil {
		return nil, Meta{}, err
	}
	meta, err := m.Study.meta()
	if err != nil {
		return nil, Meta{}, fmt.Errorf("study: %s: %w", path, err)
	}
	if h := meta.Fingerprint(); h != m.StudyHash {
		return nil, Meta{}, errorf(ErrMerge, "%s: the study does not match its study_hash (edited by hand?)", path)
	}
	sh := m.Shard
	if sh.Count < 1 || sh.Index < 0 || sh.Index >= sh.Count {
		return nil, Meta{}, errorf(ErrMerge, "%s: shard %d/%d is out of range", path, sh.Index, sh.Count)
	}
	if sh.Count > 1 {
		meta.Shard = Shard{Index: sh.Index, Count: sh.Count}
	}
	return &m, meta, nil
}

// claim makes dir ready for results of meta's study and shard: it creates
// it, refuses it if it holds something else (see ClearDir), removes the run
// files of an earlier run of the same study and shard, and writes the
// manifest with no runs, which proves the directory writable.
func claim(dir string, meta Meta) error {
	if err := checkDir(dir, meta); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, runsDir), 0o755); err != nil {
		return fmt.Errorf("study: %w", err)
	}
	if err := writeManifest(dir, meta, nil); err != nil {
		return err
	}
	old, err := runFiles(dir)
	if err != nil {
		return err
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return fmt.Errorf("study: %w", err)
		}
	}
	return nil
}

// existing reads what the results directory dir holds before results are
// written into it: found is false when dir is missing, or holds nothing
// (or only a tuning stage); an error when dir cannot take results at all
// (not a directory, other files, results that cannot be read).
func existing(dir string) (m *manifest, old Meta, found bool, err error) {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, old, false, nil
	case err != nil:
		return nil, old, false, &ConfigError{Field: "dir", Err: err}
	case !fi.IsDir():
		return nil, old, false, fieldErr("dir", "%s is not a directory", dir)
	}
	m, old, err = readManifest(dir)
	if errors.Is(err, fs.ErrNotExist) {
		entries, err := foreign(dir)
		if err != nil {
			return nil, old, false, err
		}
		if len(entries) > 0 {
			return nil, old, false, errorf(ErrDirInUse, "%s holds files that are not study results (%s): choose another directory", dir, names(entries))
		}
		return nil, old, false, nil
	}
	if err != nil {
		return nil, old, false, errorf(ErrDirInUse, "%s holds results that cannot be read (%w): clear it", dir, err)
	}
	return m, old, true, nil
}

// checkDir reports whether dir could take results of meta's study and
// shard, without writing anything: it may be missing, empty, or hold
// results of the same study and shard.
func checkDir(dir string, meta Meta) error {
	m, old, found, err := existing(dir)
	if err != nil || !found {
		return err
	}
	if m.StudyHash != meta.Fingerprint() {
		return errorf(ErrDirInUse, "%s holds the results of another study (%q, %d runs; it differs in %s): clear it or choose another directory",
			dir, old.Name, len(m.Runs), strings.Join(differences(old, meta), ", "))
	}
	if old.Shard != meta.Shard {
		return errorf(ErrDirInUse, "%s holds shard %s of this study, not %s: clear it or choose another directory", dir, old.Shard, meta.Shard)
	}
	return nil
}

// foreign lists the entries of a directory without study.json other than
// a tuning stage's subdirectory (TuningDir), which a tuned study writes
// before its final stage.
func foreign(dir string) ([]os.DirEntry, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("study: %w", err)
	}
	return slices.DeleteFunc(entries, func(e os.DirEntry) bool { return e.Name() == TuningDir && e.IsDir() }), nil
}

// checkTunedDir reports whether dir could take the final stage of the tuned
// study whose tuning stage has fingerprint tuningHash, before the rates
// are chosen: it may be missing, empty but for the tuning stage, or hold a
// final stage of the same tuning stage (which the new one replaces).
func checkTunedDir(dir, tuningHash string) error {
	m, old, found, err := existing(dir)
	if err != nil || !found {
		return err
	}
	if old.Stage != StageFinal || old.Tuning == nil || old.Tuning.StudyHash != tuningHash {
		return errorf(ErrDirInUse, "%s holds the results of another study (%q, %d runs): clear it or choose another directory", dir, old.Name, len(m.Runs))
	}
	if old.Shard.Count > 1 {
		return errorf(ErrDirInUse, "%s holds shard %s of this study's final stage, not the whole: clear it or choose another directory", dir, old.Shard)
	}
	return nil
}

// clearFinal removes from dir (checked by checkTunedDir) an earlier final
// stage whose rates differ from final's, keeping the tuning stage.
func clearFinal(dir string, final *Study) error {
	_, old, err := readManifest(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	runs, err := final.Runs()
	if err != nil {
		return err
	}
	meta, err := final.meta(len(runs), Shard{})
	if err != nil {
		return err
	}
	if old.Fingerprint() == meta.Fingerprint() {
		return nil // claim replaces its runs
	}
	return clearFiles(dir)
}

// differences names the fields of study.json in which two studies differ.
func differences(a, b Meta) []string {
	fields := func(m Meta) map[string]string {
		raw, _ := json.Marshal(m.toJSON())
		var obj map[string]json.RawMessage
		json.Unmarshal(raw, &obj)
		out := map[string]string{}
		for k, v := range obj {
			out[k] = string(v)
		}
		return out
	}
	fa, fb := fields(a), fields(b)
	var diff []string
	for _, k := range slices.Sorted(maps.Keys(fa)) {
		if fa[k] != fb[k] {
			diff = append(diff, k)
		}
	}
	return diff
}

func names(entries []os.DirEntry) string {
	var out []string
	for i, e := range entries {
		if i == 3 {
			out = append(out, fmt.Sprintf("and %d more", len(entries)-3))
			break
		}
		out = append(out, e.Name())
	}
	return strings.Join(out, ", ")
}

// runFiles lists the .json and .csv files of dir/runs.
func runFiles(dir string) ([]string, error) {
	var out []string
	for _, pat := range []string{"*.json", "*.csv"} {
		m, err := filepath.Glob(filepath.Join(dir, runsDir, pat))
		if err != nil {
			return nil, fmt.Errorf("study: %w", err)
		}
		out = append(out, m...)
	}
	return out, nil
}

// ClearDir removes the results dir holds: study.json, the run files in
// runs/ (and runs/ once empty), the summaries and the plots, landscapes
// included, and those of a tuned study's tuning stage in dir/tuning. It
// removes nothing else, and refuses (ErrDirInUse) a directory that holds
// files but no study.json, since they are not study results. A missing
// directory is not an error.
func ClearDir(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	tuning := filepath.Join(dir, TuningDir)
	if _, err := os.Stat(filepath.Join(dir, manifestName)); errors.Is(err, fs.ErrNotExist) {
		entries, err := foreign(dir)
		if err != nil {
			return err
		}
		if len(entries) > 0 {
			return errorf(ErrDirInUse, "%s holds files that are not study results (%s): not clearing it", dir, names(entries))
		}
	} else if err := clearFiles(dir); err != nil {
		return err
	}
	if _, err := os.Stat(tuning); err == nil {
		if err := ClearDir(tuning); err != nil {
			return err
		}
		if left, err := os.ReadDir(tuning); err == nil && len(left) == 0 {
			if err := os.Remove(tuning); err != nil {
				return fmt.Errorf("study: %w", err)
			}
		}
	}
	return nil
}

// clearFiles removes the results of dir itself (not its tuning stage).
func clearFiles(dir string) error {
	files, err := runFiles(dir)
	if err != nil {
		return err
	}
	files = append(files, filepath.Join(dir, manifestName))
	for _, f := range []string{"summary.md", "summary.csv", "summary.json", "sweep.md"} {
		files = append(files, filepath.Join(dir, f))
	}
	for _, f := range figures {
		for _, ext := range []string{"png", "svg", "pdf", "eps"} {
			files = append(files, filepath.Join(dir, f+"."+ext))
		}
	}
	landscapes, err := landscapeFiles(dir)
	if err != nil {
		return err
	}
	files = append(files, landscapes...)
	for _, f := range files {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("study: %w", err)
		}
	}
	runs := filepath.Join(dir, runsDir)
	if left, err := os.ReadDir(runs); err == nil && len(left) == 0 {
		if err := os.Remove(runs); err != nil {
			return fmt.Errorf("study: %w", err)
		}
	}
	return nil
}

// writeManifest writes dir's study.json listing runs.
func writeManifest(dir string, meta Meta, runs []string) error {
	return writeJSON(filepath.Join(dir, manifestName), meta.manifest(runs))
}

// writeRun writes runs/<id>.json and runs/<id>.csv.
func writeRun(dir string, run RunResult) error {
	base := filepath.Join(dir, runsDir, run.ID())
	if err := writeJSON(base+".json", run.toJSON()); err != nil {
		return err
	}
	var b bytes.Buffer
	if err := run.WriteCSV(&b); err != nil {
		return err
	}
	return writeFileAtomic(base+".csv", b.Bytes())
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("study: %s: %w", filepath.Base(path), err)
	}
	return writeFileAtomic(path, append(b, '\n'))
}

// writeFileAtomic replaces path with b: a temporary file in the same
// directory, synced, then renamed over path, so that a crash leaves the old
// file or the new one.
func writeFileAtomic(path string, b []byte) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("study: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("study: %w", err)
		}
	}()
	if _, err := tmp.Write(b); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Fingerprint validates the study and returns the fingerprint its results
// carry (see Meta.Fingerprint): two studies whose results can be merged
// have equal fingerprints.
func (s *Study) Fingerprint() (string, error) {
	runs, err := s.Runs()
	if err != nil {
		return "", err
	}
	meta, err := s.meta(len(runs), Shard{})
	if err != nil {
		return "", err
	}
	return meta.Fingerprint(), nil
}
