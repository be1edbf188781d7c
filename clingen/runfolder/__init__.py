"""The run folder: the output folder of a generation run (`clingen generate --out <out>`), which every later stage
reads (reparse, the pipeline's filter step, export, audit, quality, train) and users keep. This package is its
data model; it sits below the stages (it imports only the base modules, the config, the task specs and
datasets.records), so each of them reads the folder from below (scripts/layers.py checks the layer order).

Layout of `<out>/` (local path, s3:// or gs://):

    data/part-NNNNNN.parquet      a shard's examples              written by OutputStore.commit, called from
    failures/part-NNNNNN.parquet  a shard's rejected replies        generation.commits (generate's Ray tasks),
                                  (row, reason, detail, raw text)   generation.reparse and parsing.consistency
    progress/part-NNNNNN.json     a shard's progress marker: its rows, counts by reason, tokens, and each file's
                                  SHA-256, size and rows; written last, it is what makes the shard committed
    manifest.json                 the typed record of the run (manifest.Manifest): config and fingerprint, counts,
                                  tokens, runs, reparses, set-aside entries; written by generate (before the
                                  first shard and at the end), reparse, the filter step, and any writer that sets
                                  something aside
    README.md                     the dataset card (card.py), rewritten by every command that changes the shards,
                                  so that `datasets.load_dataset(<out>)` reads the folder as it is
    versions/<k>/                 the shards and manifest a reparse replaced (store.OutputStore.swap_in)
    .staged/                      a reparse's new version while it is written, with SWAP.json, the journal that
                                  makes a swap killed midway finish when the folder is next opened
    set_aside/<name>-<time>/      what no committed shard accounts for, moved there with SET_ASIDE.json saying why
    logs/ray-<time>/              the run's Ray, Ray Data and vLLM logs (clingen.cluster)
    .clingen.lock, .clingen.change.lock, .clingen.turnstile.lock   the locks (lock.py)

A shard is committed when its progress marker exists; the marker is written after the shard's data and failure
files, so a run killed at any point leaves either a whole shard or files no marker accounts for. Rows named in
markers are done; a resumed run generates only the others: no duplicates, no gaps.

Nothing is deleted that this process did not write: a writing command (`OutputStore.scan`) moves whatever no
committed shard accounts for (a shard without its marker, a partial write, a shard whose files are missing,
changed or unreadable, a file from elsewhere) to set_aside/, says so on stderr (a warning) and records it in the
manifest at once, and its rows count as not done. A reader (`read_examples`, `read_failures`) refuses such a
folder naming the files (folder_check.py).

One writer at a time (lock.py): a command that writes the folder holds `.clingen.lock` (an OS file lock the
kernel releases when the process dies) for its whole run, and a second writer is refused naming the holder or
waits (`--wait`); shard commits, set-asides and swaps hold `.clingen.change.lock` exclusively, readers hold it
shared, so a reader sees one whole version. Object stores have no file locks: there none is taken.

Modules: store (OutputStore), progress (the sums of the markers), folder_check (what the files are accounted for
by), manifest, lock, reasons (the failure-reason vocabulary the markers and the manifest count by), card (the
dataset card), export (`clingen export`), usage (tokens and cost from the manifest).
"""
