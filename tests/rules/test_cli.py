from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from client.cli import cli


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_calc_json(runner: CliRunner) -> None:
    result = runner.invoke(
        cli, ["rules", "calc", "--region", "110000", "--period", "202407", "--base", "8000",
              "--risk-class", "1", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["total"] == "2963.00"
    assert data["employer_total"] == "2120.00"
    assert data["employee_total"] == "843.00"
    pension = data["items"][0]
    assert pension["code"] == "pension"
    assert pension["employer"]["amount"] == "1280.00"
    assert data["items"][1]["employee"]["fixed"] == "3.00"


def test_calc_table(runner: CliRunner) -> None:
    result = runner.invoke(
        cli, ["rules", "calc", "--region", "110000", "--period", "2024-07", "--base", "5000"]
    )
    assert result.exit_code == 0, result.output
    assert "北京市" in result.output
    assert "6821(下限)" in result.output
    assert "1091.36" in result.output
    assert "总计" in result.output
    assert "未指定工伤行业风险类别" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--region", "110000", "--period", "2024-13", "--base", "8000"], "月份"),
        (["--region", "110000", "--period", "20241", "--base", "8000"], "费款所属期"),
        (["--region", "990000", "--period", "202407", "--base", "8000"], "没有地区"),
        (["--region", "abc", "--period", "202407", "--base", "8000"], "地区代码"),
        (["--region", "110000", "--period", "202407", "--base", "abc"], "不是有效的数值"),
        (["--region", "110000", "--period", "202407", "--base", "-5"], "不小于0"),
        (["--region", "110000", "--period", "202407", "--base", "NaN"], "不小于0"),
        (["--region", "110000", "--period", "202301", "--base", "8000"], "没有费款所属期"),
        (["--region", "110000", "--period", "202407", "--base", "8000", "--risk-class", "9"], "风险类别"),
        (["--region", "110000", "--period", "202407", "--base", "8000", "--risk-class", "x"], "风险类别"),
        (["--region", "110000", "--period", "202407", "--base", "8000", "--risk-class", "1",
          "--injury-float", "3"], "浮动"),
    ],
)
def test_calc_bad_options(runner: CliRunner, args: list[str], message: str) -> None:
    result = runner.invoke(cli, ["rules", "calc", *args])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


def test_show_and_regions(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["rules", "show", "--region", "140000"])
    assert result.exit_code == 0, result.output
    assert "山西省" in result.output and "年金缴款通知单" in result.output
    assert "未核实" in result.output
    result = runner.invoke(cli, ["rules", "regions"])
    assert result.exit_code == 0
    assert "110000" in result.output and "310000" in result.output


def test_show_unknown_region(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["rules", "show", "--region", "990000"])
    assert result.exit_code == 1
    assert "没有地区" in result.output


@pytest.mark.parametrize("value", ["11010519491231002X", "440524188001010014"])
def test_check_id_valid(runner: CliRunner, value: str) -> None:
    result = runner.invoke(cli, ["check", "id", value])
    assert result.exit_code == 0
    assert result.output.strip() == "有效"


def test_check_id_invalid(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["check", "id", "110105194912310021"])
    assert result.exit_code == 1
    assert "校验位错误" in result.output


def test_check_uscc(runner: CliRunner) -> None:
    ok = runner.invoke(cli, ["check", "uscc", "91350100M000100Y43"])
    assert ok.exit_code == 0 and ok.output.strip() == "有效"
    bad = runner.invoke(cli, ["check", "uscc", "91350100M000100Y44"])
    assert bad.exit_code == 1 and "校验位错误" in bad.output
    short = runner.invoke(cli, ["check", "uscc", "123"])
    assert short.exit_code == 1 and "18位" in short.output
