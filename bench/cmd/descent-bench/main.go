// Command descent-bench runs descent's standard workloads end to end and
// prints a table and JSON: W1, the seed's XOR 2-10-1 at full batch (the
// per-step overhead); W2, MNIST 784-128-10 trained by SGD at lr 0.05 at
// batch 1 (first 10,000 steps), 32, 128 and 60,000 (5 steps); W3,
// prediction of the 10,000 test images in batches of 1,000. Each runs on
// descent and on the hand-written floor (the same network on gonum's BLAS),
// and on PyTorch when python3 can import torch.
//
//	go run ./bench/cmd/descent-bench [-quick] [-json out.json]
//	CGO_LDFLAGS=-lopenblas go run -tags openblas ./bench/cmd/descent-bench
//
// Each implementation and dtype runs in a child process of its own, so that
// its peak memory is its own. The machine's speed drifts by tens of percent
// between runs minutes apart, so the implementations are measured in
// interleaved rounds (-rounds, 3 by default): in each round descent, the
// floor and each torch setting run once, back to back, and the table gives
// every case's median over the rounds with the spread of its time per step.
// -quick runs one round of fewer steps: for CI, not for comparisons. See
// bench/README.md for the columns.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/descentlab/descent/bench"
)

type workerOut struct {
	Results []bench.Result `json:"results"`
	Source  string         `json:"source"`
	Dir     string         `json:"dir"`
}

func main() {
	quick := flag.Bool("quick", false, "fewer steps: the whole run in well under a minute")
	jsonOut := flag.String("json", "", "also write the JSON report to this file")
	synthetic := flag.Bool("synthetic", false, "use synthetic MNIST-shaped data even when the MNIST files are present")
	dtypes := flag.String("dtypes", "float32,float64", "dtypes to run")
	torch := flag.String("torch", "auto", "auto: run torch_bench.py when python can import torch; off: skip it")
	python := flag.String("python", "/usr/bin/python3", "python interpreter for the torch peer")
	inProcess := flag.Bool("inprocess", false, "run every case in this process (peak RSS is then the whole run's)")
	worker := flag.String("worker", "", "internal: run the cases of impl:dtype and print JSON")
	rounds := flag.Int("rounds", 0, "interleaved rounds of every implementation (median and spread per case); 0 means 3, or 1 with -quick")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("descent-bench: ")

	opts := bench.Options{Quick: *quick, Synthetic: *synthetic, DTypes: strings.Split(*dtypes, ",")}
	if *worker != "" {
		impl, dt, _ := strings.Cut(*worker, ":")
		res, src, err := bench.Run(opts, impl, dt)
		if err != nil {
			log.Fatal(err)
		}
		out := workerOut{Results: res, Source: src}
		if src == "mnist" {
			out.Dir, _ = mnistDir()
		}
		if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
			log.Fatal(err)
		}
		return
	}

	if *rounds < 0 {
		log.Fatalf("-rounds %d must not be negative", *rounds)
	}
	if *rounds == 0 {
		*rounds = 3
		if *quick {
			*rounds = 1
		}
	}
	rep := bench.NewReport(*quick)
	rep.Rounds = *rounds
	mnist := ""
	if *inProcess {
		r, err := bench.RunInProcess(opts)
		if err != nil {
			log.Fatal(err)
		}
		rep.Results, rep.Data = r.Results, r.Data
		if r.Data == "mnist" {
			mnist, _ = mnistDir()
		}
		if torchReady(rep, *torch, *python) {
			dir, err := os.MkdirTemp("", "descent-bench")
			if err != nil {
				log.Fatal(err)
			}
			defer os.RemoveAll(dir)
			if err := bench.WriteWeights(dir); err != nil {
				log.Fatal(err)
			}
			for _, dt := range opts.DTypes {
				rep.Results = append(rep.Results, runTorch(*python, *quick, mnist, dir, dt)...)
			}
		}
	} else {
		self, err := os.Executable()
		if err != nil {
			log.Fatal(err)
		}
		torchOK := torchReady(rep, *torch, *python)
		var weights string
		if torchOK {
			if weights, err = os.MkdirTemp("", "descent-bench"); err != nil {
				log.Fatal(err)
			}
			defer os.RemoveAll(weights)
			if err := bench.WriteWeights(weights); err != nil {
				log.Fatal(err)
			}
		}
		for round := 1; round <= *rounds; round++ {
			for _, dt := range opts.DTypes {
				for _, impl := range []string{bench.ImplDescent, bench.ImplFloor} {
					args := []string{"-worker", impl + ":" + dt, "-quick=" + strconv.FormatBool(*quick), "-synthetic=" + strconv.FormatBool(*synthetic)}
					fmt.Fprintf(os.Stderr, "round %d/%d: %s %s...\n", round, *rounds, impl, dt)
					cmd := exec.Command(self, args...)
					cmd.Stderr = os.Stderr
					b, err := cmd.Output()
					if err != nil {
						log.Fatalf("%s %s: %v", impl, dt, err)
					}
					var w workerOut
					if err := json.Unmarshal(b, &w); err != nil {
						log.Fatalf("%s %s: %v", impl, dt, err)
					}
					rep.Results = append(rep.Results, w.Results...)
					rep.Data, mnist = w.Source, w.Dir
				}
				if torchOK {
					fmt.Fprintf(os.Stderr, "round %d/%d: torch %s...\n", round, *rounds, dt)
					rep.Results = append(rep.Results, runTorch(*python, *quick, mnist, weights, dt)...)
				}
			}
		}
		rep.Results = bench.Summarise(rep.Results)
	}
	if err := rep.WriteTable(os.Stdout); err != nil {
		log.Fatal(err)
	}
	b, err := rep.JSON()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(b))
	if *jsonOut != "" {
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}

func mnistDir() (string, error) { return bench.MNISTDirForTorch() }

// torchReady reports whether the torch peer can run, recording in rep its
// version or why it does not run.
func torchReady(rep *bench.Report, mode, python string) bool {
	if mode == "off" {
		rep.Torch = "off"
		return false
	}
	ver, err := bench.TorchVersion(python)
	if err != nil {
		rep.Torch = "not run: " + bench.TorchHelp
		fmt.Fprintln(os.Stderr, bench.TorchHelp)
		return false
	}
	rep.Torch = "torch " + ver
	return true
}

// runTorch runs the torch peer for one dtype in each thread setting, from
// the initial weights in dir, and returns its results.
func runTorch(python string, quick bool, mnist, dir, dt string) []bench.Result {
	var out []bench.Result
	for _, s := range bench.TorchSettings {
		args := append([]string{"--dtype", dt, "--weights", dir}, s.Args...)
		if quick {
			args = append(args, "--quick")
		}
		if mnist != "" {
			args = append(args, "--mnist", mnist)
		}
		res, err := bench.RunTorch(python, bench.TorchScript(), args, s.Env)
		if err != nil {
			log.Fatal(err)
		}
		out = append(out, res...)
	}
	return out
}
