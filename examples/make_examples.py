"""Regenerate the bundled example hand-in (run: .venv/bin/python examples/make_examples.py).

The example is what a real student notebook looks like after a day in Jupyter: the
course notebook with its regions filled, outputs and a warning on stderr, a shell
escape, a cell run twice with a change, and one honest mistake (``train`` saves a
checkpoint every epoch, so the last epoch wins instead of the best).
"""

from pathlib import Path

import jupytext
import nbformat

HERE = Path(__file__).resolve().parent
REFERENCE = HERE.parent / "reference" / "w01_autoencoder" / "A01_autoencoder.py"

BUGGY_TRAIN = '''def train(model, optimizer, num_epochs, train_loader, val_loader, criterion, device):
    dict_log = {"train_loss": [], "val_loss": []}
    ### START CODE HERE ### (≈ 12 lines of code)
    for epoch in range(num_epochs):
        train_loss = train_one_epoch(model, optimizer, train_loader, criterion, device)
        val_loss = validate(model, val_loader, criterion, device)
        dict_log["train_loss"].append(train_loss)
        dict_log["val_loss"].append(val_loss)
        save_model(model, "best_model_min_val_loss.pth", epoch, optimizer, val_loss)
    ### END CODE HERE ###
    return dict_log
'''


def main() -> None:
    nb = jupytext.read(REFERENCE)
    nb.metadata.pop("jupytext", None)
    code = [c for c in nb.cells if c.cell_type == "code"]
    code[0].source = "!pip install -q tqdm\n" + code[0].source
    for cell in code:
        if cell.source.startswith("def save_model"):
            start = cell.source.index("def train(")
            cell.source = cell.source[:start] + BUGGY_TRAIN
        if "test_Autoencoder()" in cell.source:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout",
                                                   text="Autoencoder test passed!\n")]
            cell.execution_count = 4
        if "test_load_data()" in cell.source:
            cell.outputs = [nbformat.v4.new_output(
                "stream", name="stderr",
                text="UserWarning: This DataLoader will create 2 worker processes\n")]
    # the student ran the validation cell twice, the second time after a fix
    index = next(i for i, c in enumerate(nb.cells) if c.source.startswith("def validate"))
    first_try = nbformat.v4.new_code_cell(nb.cells[index].source.replace(
        "val_loss_epoch = float(np.mean(losses))", "val_loss_epoch = float(np.sum(losses))"))
    nb.cells.insert(index, first_try)
    out = HERE / "w01_autoencoder" / "A01_autoencoder.ipynb"
    out.parent.mkdir(exist_ok=True)
    nbformat.write(nb, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
