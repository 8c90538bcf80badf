"""The data layer: the camera's figures (`camera`), one spec per dataset (`datasets`), the
raw recordings' file formats (`raw`), the record schema (`schema`) and the input
pipelines built on it. Import the submodules you need; this package imports nothing."""
