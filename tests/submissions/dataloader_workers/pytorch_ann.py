"""A two-layer perceptron for Fashion-MNIST in PyTorch: the reference, its fit reading
batches through a DataLoader with two worker processes, as the seed tutorial does."""

import resource
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

sys.path.append(str(Path(__file__).resolve().parent.parent))  # utils.py, when run from the course repository
import utils  # noqa: E402


class PyTorchANN(nn.Module):
    def __init__(self, input_size=784, hidden_size=128, output_size=10, random_seed=42):
        super().__init__()
        utils.set_seed(random_seed)
        self.layers = nn.Sequential(
            nn.Flatten(), nn.Linear(input_size, hidden_size), nn.ReLU(), nn.Linear(hidden_size, output_size)
        )

    def forward(self, X):
        """X (n, 784) or (n, 1, 28, 28) -> logits (n, output_size)."""
        return self.layers(X)

    def fit(self, X_train, y_train, X_val, y_val, epochs=2, batch_size=128, learning_rate=2e-3):
        optimizer = torch.optim.Adam(self.parameters(), lr=learning_rate)
        loss_fn = nn.CrossEntropyLoss()
        history = utils.new_history()
        whose = (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        before = [resource.getrusage(who) for who in whose]
        for epoch in range(1, epochs + 1):
            started = time.perf_counter()
            self.train()
            total_loss = correct = 0.0
            loader = DataLoader(TensorDataset(X_train, y_train), batch_size=batch_size,
                                shuffle=True, num_workers=2)
            for X_batch, y_batch in loader:
                optimizer.zero_grad()
                logits = self(X_batch)
                loss = loss_fn(logits, y_batch)
                loss.backward()
                optimizer.step()
                total_loss += loss.item() * len(y_batch)
                correct += (logits.argmax(dim=1) == y_batch).sum().item()
            history["train_loss"].append(total_loss / len(X_train))
            history["train_acc"].append(correct / len(X_train))
            val_loss, val_acc = self.evaluate(X_val, y_val, loss_fn)
            history["val_loss"].append(val_loss)
            history["val_acc"].append(val_acc)
            utils.progress(epoch, epochs, history, time.perf_counter() - started)
        # The CPU time of this process and of its loader workers (reaped) while fit ran: the
        # grader must count both (tests/test_dataloader.py reads this line).
        after = [resource.getrusage(who) for who in whose]
        used = [a.ru_utime + a.ru_stime - b.ru_utime - b.ru_stime
                for a, b in zip(after, before, strict=True)]
        print(f"fit used CPU: {used[0]:.2f} s here, {used[1]:.2f} s in its loader workers")
        return history

    @torch.no_grad()
    def evaluate(self, X, y, loss_fn):
        """(mean loss, accuracy) on X, y, in eval mode."""
        self.eval()
        logits = torch.cat([self(X[i:i + 1024]) for i in range(0, len(X), 1024)])
        return loss_fn(logits, y).item(), (logits.argmax(dim=1) == y).float().mean().item()

    @torch.no_grad()
    def predict(self, X):
        """X (n, 784) or (n, 1, 28, 28) -> class indices, int64 (n,)."""
        self.eval()
        return torch.cat([self(X[i:i + 1024]).argmax(dim=1) for i in range(0, len(X), 1024)])

    def plot_train_val_metrics(self, history, path="pytorch_ann_train_val_metrics.png"):
        fig, (ax_loss, ax_acc) = utils.learning_curve_axes("PyTorch ANN")
        epochs = range(1, len(history["train_loss"]) + 1)
        for split in ("train", "val"):
            ax_loss.plot(epochs, history[f"{split}_loss"], marker="o", label=split)
            ax_acc.plot(epochs, history[f"{split}_acc"], marker="o", label=split)
        utils.save_figure(fig, path)
        return fig

    def report_my_judgement(self, history):
        train_acc, val_acc = history["train_acc"][-1], history["val_acc"][-1]
        if train_acc - val_acc > 0.05:
            return "overfitting"
        if train_acc < 0.80:
            return "underfitting"
        return "generalizing"


if __name__ == "__main__":
    X_train, y_train, X_val, y_val, X_test, y_test = utils.load_data("flat")
    model = PyTorchANN()
    history = model.fit(X_train, y_train, X_val, y_val)
    utils.report("pytorch_ann", utils.accuracy(model.predict(X_test), y_test))
    model.plot_train_val_metrics(history, Path(__file__).with_name("pytorch_ann_train_val_metrics.png"))
    print(f"judgement: {model.report_my_judgement(history)}")
