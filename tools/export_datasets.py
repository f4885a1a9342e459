"""Write the real datasets shipped with dmt-tui from scikit-learn's bundled copies.

Run once by a maintainer (`pip install scikit-learn; python tools/export_datasets.py`);
the CSVs are committed under presets/datasets/, so nothing is downloaded at run time.
"""

from pathlib import Path

from sklearn.datasets import load_diabetes, load_wine

OUT = Path(__file__).resolve().parent.parent / "presets" / "datasets"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    wine = load_wine(as_frame=True)
    frame = wine.frame.copy()
    frame["target"] = [f"cultivar_{int(t)}" for t in frame["target"]]
    frame.rename(columns={"target": "cultivar"}).to_csv(OUT / "wine.csv", index=False)
    # scaled=False keeps the original units (age in years, BMI, ...); the target is disease
    # progression one year after baseline.
    diabetes = load_diabetes(as_frame=True, scaled=False)
    diabetes.frame.rename(columns={"target": "progression"}).to_csv(
        OUT / "diabetes.csv", index=False)


if __name__ == "__main__":
    main()
