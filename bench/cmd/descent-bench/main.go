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
// its peak memory is its own. See bench/README.md for the columns.
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

	rep := bench.NewReport(*quick)
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
	} else {
		self, err := os.Executable()
		if err != nil {
			log.Fatal(err)
		}
		for _, impl := range []string{bench.ImplDescent, bench.ImplFloor} {
			for _, dt := range opts.DTypes {
				args := []string{"-worker", impl + ":" + dt, "-quick=" + strconv.FormatBool(*quick), "-synthetic=" + strconv.FormatBool(*synthetic)}
				fmt.Fprintf(os.Stderr, "running %s %s...\n", impl, dt)
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
		}
	}
	runTorch(rep, *torch, *python, *quick, mnist, opts.DTypes)
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

// runTorch runs the torch peer for each dtype and thread setting and adds
// its results to rep, or records why it did not run.
func runTorch(rep *bench.Report, mode, python string, quick bool, mnist string, dtypes []string) {
	if mode == "off" {
		rep.Torch = "off"
		return
	}
	ver, err := bench.TorchVersion(python)
	if err != nil {
		rep.Torch = "not run: " + bench.TorchHelp
		fmt.Fprintln(os.Stderr, bench.TorchHelp)
		return
	}
	rep.Torch = "torch " + ver
	dir, err := os.MkdirTemp("", "descent-bench")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := bench.WriteWeights(dir); err != nil {
		log.Fatal(err)
	}
	for _, dt := range dtypes {
		for _, s := range bench.TorchSettings {
			args := append([]string{"--dtype", dt, "--weights", dir}, s.Args...)
			if quick {
				args = append(args, "--quick")
			}
			if mnist != "" {
				args = append(args, "--mnist", mnist)
			}
			fmt.Fprintf(os.Stderr, "running torch %s %s...\n", dt, s.Name)
			res, err := bench.RunTorch(python, bench.TorchScript(), args, s.Env)
			if err != nil {
				log.Fatal(err)
			}
			rep.Results = append(rep.Results, res...)
		}
	}
}
