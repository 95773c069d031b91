import { describe, expect, it } from "vitest";
import { downloadUrl, parseCsv, previewKind } from "./ArtifactBrowser";

describe("artifact browser", () => {
  it("downloads through the server's artifact proxy", () => {
    expect(downloadUrl("mlflow-artifacts:/1/abc/artifacts", "dir/a b.txt")).toBe(
      "/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/dir/a%20b.txt",
    );
    expect(downloadUrl("s3://bucket/x", "a.txt")).toBeNull();
  });

  it("previews by file type, MLmodel as YAML", () => {
    expect(previewKind("model/MLmodel")).toBe("yaml");
    expect(previewKind("plots/loss.PNG")).toBe("image");
    expect(previewKind("data.csv")).toBe("csv");
    expect(previewKind("weights.bin")).toBeNull();
  });

  it("parses quoted CSV cells", () => {
    expect(parseCsv('a,b\n"x,1","say ""hi"""\n')).toEqual([
      ["a", "b"],
      ["x,1", 'say "hi"'],
    ]);
  });
});
