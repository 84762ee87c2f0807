"""Writes the unseen set's Word, Excel and PDF documents (run once; the outputs are committed).

``.venv/bin/python -m tests.unseen.make_binaries`` rewrites u03 (a .docx of numbered
paragraphs), u04 (an .xlsx 台账 with merged cells and a two-row header) and u06 (a PDF of a
numbered plan whose lines wrap at the page width).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import cvttf_NotoSansCJK_Regular
from docx import Document
from fpdf import FPDF
from openpyxl import Workbook

HERE = Path(__file__).resolve().parent

DOCX_PARAGRAPHS = (
    "柳州市市场监督管理局2024年食品安全工作要点",
    "为全面落实食品安全“四个最严”要求，结合我局实际，制定本要点。",
    "一、强化食品安全源头治理",
    "1．开展食用农产品“治违禁 控药残 促提升”行动，抽检合格率稳定在98%以上。"
    "（牵头科室：食品经营科；配合科室：稽查支队、各县区局；完成时限：2024年11月底前）",
    "2．推进校园食品安全守护行动，学校食堂“互联网+明厨亮灶”覆盖率达到100%。"
    "（牵头科室：餐饮服务科；配合单位：市教育局；完成时限：2024年9月底前）",
    "二、提升监管执法效能",
    "3．开展食品生产企业风险分级管理，完成全部获证企业风险等级评定。"
    "（牵头科室：食品生产科；完成时限：2024年6月底前）",
    "4．组织开展食品安全宣传周活动。（牵头科室：综合协调科；配合科室：新闻宣传科；完成时限：2024年6月）",
    "5．建立食品安全工作评议考核制度，每季度通报一次工作进展。（牵头科室：综合协调科）",
)

PDF_LINES = (
    "温州市2025年养老服务提质行动任务分解",
    "1．新建城乡社区嵌入式养老服务设施20个，新增养老床位1000张。（市民政局牵头，市财政局、"
    "市自然资源和规划局配合，2025年11月底前完成）",
    "2．开展老年人居家适老化改造2000户。（市民政局牵头，市残联配合，2025年10月底前完成）",
    "3．培训养老护理员1500人次。（市人力社保局、市民政局按职责分工负责，2025年12月底前完成）",
    "4．推进医养结合机构建设，二级以上综合医院设立老年医学科比例达到90%。"
    "（市卫生健康委牵头，2025年年底前完成）",
    "5．建立养老服务综合监管制度。（市民政局牵头，市市场监管局、市消防救援支队配合，持续推进）",
)


def write_docx() -> None:
    document = Document()
    for text in DOCX_PARAGRAPHS:
        document.add_paragraph(text)
    document.save(str(HERE / "u03_liuzhou_shipinanquan_2024.docx"))


def write_xlsx() -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "任务台账"
    sheet.append(["宜宾市2024年数字经济发展重点任务台账"])
    sheet.append(["序号", "任务类别", "工作任务", "责任单位", None, "完成时限"])
    sheet.append([None, None, None, "牵头单位", "配合单位", None])
    rows = (
        (
            "1",
            "数字基础设施",
            "新建5G基站1500个",
            "市经济和信息化局",
            "中国电信宜宾分公司、中国移动宜宾分公司",
            "2024年12月底前",
        ),
        ("2", None, "建设城市算力中心一期", "市发展改革委", "三江新区管委会", "2024年9月"),
        (
            "3",
            "数字产业化",
            "引进数字经济企业50家",
            "市投资促进局",
            "市经济和信息化局",
            "2024年12月底前",
        ),
        ("4", None, "培育省级工业互联网平台2个", "市经济和信息化局", "市科技局", "2024年10月底前"),
        ("5", None, "推动“上云用数赋智”，新增上云企业300家", None, "各区县人民政府", "持续推进"),
    )
    for row in rows:
        sheet.append(list(row))
    for cells in ("A1:F1", "D2:E2", "A2:A3", "B2:B3", "C2:C3", "F2:F3", "B4:B5", "B6:B8", "D7:D8"):
        sheet.merge_cells(cells)
    book.save(str(HERE / "u04_yibin_shuzijingji_2024_ledger.xlsx"))


def write_pdf() -> None:
    pdf = FPDF()
    pdf.set_creation_date(datetime(2025, 3, 1, tzinfo=UTC))
    pdf.add_font("noto", fname=str(cvttf_NotoSansCJK_Regular.get_TTF_path()))
    pdf.set_font("noto", size=12)
    pdf.add_page()
    for line in PDF_LINES:
        pdf.multi_cell(w=0, text=line, new_x="LMARGIN", new_y="NEXT")
    (HERE / "u06_wenzhou_yanglao_2025.pdf").write_bytes(bytes(pdf.output()))


if __name__ == "__main__":
    write_docx()
    write_xlsx()
    write_pdf()
