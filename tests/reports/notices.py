"""Notices built directly as domain.notice.Notice values, for the renderers' tests and bench."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from domain.notice import (
    Notice,
    NoticeChanges,
    NoticeStatus,
    NoticeTotals,
    TaskStanding,
    UnitStanding,
)

SHANGHAI = timezone(timedelta(hours=8))
UNITS = (
    "市发展改革委",
    "市住房城乡建设局",
    "市交通运输局",
    "市生态环境局",
    "市教育局",
    "市卫生健康委",
)
STATUSES = (
    NoticeStatus.COMPLETED_ON_TIME,
    NoticeStatus.ON_SCHEDULE,
    NoticeStatus.BEHIND,
    NoticeStatus.OVERDUE,
    NoticeStatus.COMPLETED_LATE,
    NoticeStatus.NOT_ACCEPTED,
    NoticeStatus.ON_SCHEDULE,
)
COMPLETED = (NoticeStatus.COMPLETED_ON_TIME, NoticeStatus.COMPLETED_LATE)
LIGHTS = {
    NoticeStatus.ON_SCHEDULE: "green",
    NoticeStatus.BEHIND: "yellow",
    NoticeStatus.OVERDUE: "red",
    NoticeStatus.NOT_ACCEPTED: "yellow",
}


def task(index: int, units: tuple[str, ...] = UNITS) -> TaskStanding:
    status = STATUSES[index % len(STATUSES)]
    overdue = status is NoticeStatus.OVERDUE
    return TaskStanding(
        plan_id="plan-2026",
        task_id=f"t{index}",
        workflow_id=f"task-plan-2026-t{index}",
        number=str(index + 1),
        text=f"推进第{index + 1}项重点工程建设，确保年底前竣工验收",
        lead_unit=units[index % len(units)],
        cooperating_units=(units[(index + 1) % len(units)],),
        due=date(2026, 6, 30) - timedelta(days=index % 40),
        stage="承办" if status not in (NoticeStatus.COMPLETED_ON_TIME,) else "办结",
        status=status,
        light=LIGHTS.get(status),
        progress_percent=(index * 13) % 101,
        last_progress_text=f"已完成施工招标，第{index % 9 + 1}标段进场" if index % 5 else None,
        days_overdue=(index % 40) + 1 if overdue else 0,
        escalation_level=(index % 3) + 1 if overdue else 0,
        escalations=(index % 4) + 1 if overdue else 0,
        completed_at=None,
        refusals=index % 2,
        reported_this_month=index % 6 != 0,
    )


def unit_rows(tasks: list[TaskStanding], units: tuple[str, ...]) -> tuple[UnitStanding, ...]:
    rows = []
    for name in units:
        led = [t for t in tasks if t.lead_unit == name]
        done = sum(t.status in COMPLETED for t in led)
        rows.append(
            UnitStanding(
                unit=name,
                led=len(led),
                completed=done,
                completed_late=sum(t.status is NoticeStatus.COMPLETED_LATE for t in led),
                on_schedule=sum(t.status is NoticeStatus.ON_SCHEDULE for t in led),
                behind=sum(t.status is NoticeStatus.BEHIND for t in led),
                overdue=sum(t.status is NoticeStatus.OVERDUE for t in led),
                completion_rate=done / len(led) if led else 0.0,
                average_days_late=2.5,
                refusals=sum(t.refusals for t in led),
                silent_consents=1,
                rank=0,
            )
        )
    rows.sort(key=lambda u: (-u.completion_rate, u.unit))
    return tuple(u.model_copy(update={"rank": rank}) for rank, u in enumerate(rows, start=1))


def notice(tasks_count: int = 20, units: tuple[str, ...] = UNITS, requirements: str = "") -> Notice:
    tasks = [task(i, units) for i in range(tasks_count)]

    def count(status: NoticeStatus) -> int:
        return sum(t.status is status for t in tasks)

    on_time, late = count(NoticeStatus.COMPLETED_ON_TIME), count(NoticeStatus.COMPLETED_LATE)
    return Notice(
        month="2026-06",
        as_of=datetime(2026, 6, 30, 23, 59, 59, tzinfo=SHANGHAI),
        plan_id="plan-2026",
        plan_titles=("2026年市政府重点工作任务分解方案",),
        office="市政府督查室",
        issue_number=6,
        issued_on=date(2026, 7, 1),
        addressees="各县区人民政府，市政府各部门",
        title="关于2026年6月份重点任务推进情况的通报",
        totals=NoticeTotals(
            tasks=len(tasks),
            completed=on_time + late,
            completed_on_time=on_time,
            completed_late=late,
            on_schedule=count(NoticeStatus.ON_SCHEDULE),
            behind=count(NoticeStatus.BEHIND),
            overdue=count(NoticeStatus.OVERDUE),
            not_accepted=count(NoticeStatus.NOT_ACCEPTED),
            refused=0,
            cancelled=0,
        ),
        units=unit_rows(tasks, units),
        tasks=tuple(tasks),
        overdue=tuple(t for t in tasks if t.status is NoticeStatus.OVERDUE),
        silent_units=(units[0],),
        due_next_month=tuple(tasks[:3]),
        changes=NoticeChanges(newly_completed=("1",), newly_overdue=("4",), extensions_granted=()),
        requirements=requirements,
        behind_margin=0.1,
    )
